"""API keys: 256 random bits behind a recognisable prefix. Only the SHA-256 of a key is stored
(a key is high-entropy, so a fast hash is enough and lookup is one indexed equality)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

PREFIX = "lmf_"
MIN_LENGTH = 32   # a key given from outside (FLEET_BOOTSTRAP_API_KEY) must be at least this long


@dataclass(frozen=True)
class NewKey:
    key: str        # shown once
    id: str
    key_hash: str
    prefix: str     # stored to recognise the key in lists, never enough to use it


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def from_secret(key: str) -> NewKey:
    return NewKey(key=key, id=secrets.token_hex(8), key_hash=key_hash(key), prefix=key[:12])


def new_key() -> NewKey:
    return from_secret(PREFIX + secrets.token_urlsafe(32))
