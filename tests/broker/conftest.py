"""Fixtures: a throwaway CA and real Mosquitto brokers with the dynamic security plugin."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from broker_harness import TlsFiles, start_dynsec_broker


@pytest.fixture()
def tls_files():
    # not pytest's tmp_path: its parents are private and mosquitto reads as the mosquitto user
    folder = Path(tempfile.mkdtemp(prefix="lmf-tls-"))
    yield TlsFiles.make(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def dynsec_broker():
    """Password logins on a plain listener."""
    b = start_dynsec_broker()
    yield b
    b.stop()


@pytest.fixture()
def tls_broker(tls_files):
    """A TLS listener with password logins and a mutual-TLS listener (certificate CN = username)."""
    b = start_dynsec_broker(tls_files, mtls=True)
    yield b
    b.stop()
