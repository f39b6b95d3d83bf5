"""A private key kept in one PEM file (mode 0600), created on first use.

Several processes may start at once on the same file (ground-control replicas on a shared
volume): the key is written to a temporary file and hard-linked into place, which fails if the
file exists, so exactly one key wins and every process reads that one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fleet_protocol.signing import generate_key, load_private_pem, private_pem


def load_or_create(path: str | Path) -> tuple[Ed25519PrivateKey, bool]:
    """The key in ``path``; a new one written there (0600) if there is none. Returns (key, created)."""
    p = Path(path)
    if p.exists():
        return load_private_pem(p.read_bytes()), False
    p.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=p.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private_pem(key))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, p)
        except FileExistsError:   # another process won the race: use its key
            return load_private_pem(p.read_bytes()), False
    finally:
        os.unlink(tmp)
    return key, True


def read_public_keys(paths: list[str] | tuple[str, ...]) -> list[str]:
    """The text of public-key files (PEM or base64 raw), for a trust list."""
    return [Path(x).read_text() for x in paths]
