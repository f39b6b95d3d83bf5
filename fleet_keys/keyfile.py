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


def create_once(path: str | Path, data: bytes) -> bool:
    """Write ``data`` to a new file ``path`` readable by its owner only (0600), never over an
    existing one: written to a temporary file, synced, then hard-linked into place, so a reader
    never sees a half-written key and of several processes racing exactly one wins. Returns
    whether this call created it (False: the file was there, or another process won)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=p.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, p)
        except FileExistsError:
            return False
    finally:
        os.unlink(tmp)
    return True


def load_or_create(path: str | Path) -> tuple[Ed25519PrivateKey, bool]:
    """The key in ``path``; a new one written there (0600) if there is none. Returns (key, created)."""
    p = Path(path)
    if p.exists():
        return load_private_pem(p.read_bytes()), False
    key = generate_key()
    if not create_once(p, private_pem(key)):   # another process won the race: use its key
        return load_private_pem(p.read_bytes()), False
    return key, True


def read_public_keys(paths: list[str] | tuple[str, ...]) -> list[str]:
    """The text of public-key files (PEM or base64 raw), for a trust list."""
    return [Path(x).read_text() for x in paths]
