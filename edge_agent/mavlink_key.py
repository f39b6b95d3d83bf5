"""The agent's MAVLink 2 signing secret: 32 random bytes per vehicle, in a file only its owner reads.

Generated on first start beside the agent's other state (``<vehicle>-mavlink.key``), or supplied
with ``--mavlink-key FILE`` (32 raw bytes, or 64 hex digits). The same file must survive agent
restarts: the autopilot keeps the key in its own storage and refuses traffic signed with another.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from pathlib import Path

from fleet_keys.keyfile import create_once

KEY_LEN = 32
#: seconds from the Unix epoch to 2015-01-01 00:00 UTC, MAVLink signing's epoch
SIGNING_EPOCH_UNIX_S = 1420070400


class KeyFileError(Exception):
    pass


def signing_timestamp(unix_s: float | None = None) -> int:
    """Now (or ``unix_s``) as a signing timestamp: 10 us units since 2015-01-01 UTC."""
    t = time.time() if unix_s is None else unix_s
    return max(0, int((t - SIGNING_EPOCH_UNIX_S) * 100_000))


def default_key_path(state_dir: str | os.PathLike[str], vehicle_id: str) -> Path:
    return Path(state_dir) / f"{vehicle_id}-mavlink.key"


def parse_key(raw: bytes) -> bytes:
    """32 raw bytes, or 64 hex digits (surrounding whitespace ignored)."""
    if len(raw) == KEY_LEN:
        return raw
    text = raw.strip()
    if len(text) == 2 * KEY_LEN:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    raise KeyFileError(f"a MAVLink signing key is {KEY_LEN} bytes or {2 * KEY_LEN} hex digits, got {len(raw)} bytes")


def read_key(path: str | os.PathLike[str]) -> bytes:
    """The key in ``path``; refuses a key that is all zeros (ArduPilot reads that as 'signing off')
    or a file others may read."""
    p = Path(path)
    mode = p.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{p} is readable by group or others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
    key = parse_key(p.read_bytes())
    if not any(key):
        raise KeyFileError(f"{p} holds an all-zero key")
    return key


def load_or_create_key(path: str | os.PathLike[str]) -> bytes:
    """Read the key at ``path``, creating it (mode 0600, never overwriting) on first start."""
    p = Path(path)
    if not p.exists():
        key = secrets.token_bytes(KEY_LEN)
        if create_once(p, key):
            return key
    return read_key(p)   # it was there, or another start won the race: use that key
