"""Fixtures: a throwaway CA and real Mosquitto brokers with the dynamic security plugin."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from broker_harness import ADMIN_PASSWORD, ADMIN_USER, DynsecBroker, TlsFiles, start_dynsec_broker
from ground_control.broker_admin.dynsec import AdminConnection
from ground_control.broker_admin.provisioner import DynsecBrokerAdmin


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


def admin_for(broker: DynsecBroker, tls: TlsFiles | None = None) -> DynsecBrokerAdmin:
    scheme = "mqtts" if tls else "mqtt"
    return DynsecBrokerAdmin(AdminConnection(f"{scheme}://127.0.0.1:{broker.port}", ADMIN_USER, ADMIN_PASSWORD,
                                             ca_file=str(tls.ca.cert) if tls else None, timeout_s=10))
