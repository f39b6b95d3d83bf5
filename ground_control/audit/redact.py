"""Pure: strip secrets (passwords, keys, tokens, handover codes and their hashes) from what the
audit log keeps."""

from __future__ import annotations

from typing import Any

SECRET_KEYS = frozenset({
    "password", "access_token", "key", "api_key", "secret", "handover_code",
    "password_hash", "key_hash", "handover_hash", "handover_salt",
})
MASK = "***"


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if k in SECRET_KEYS and v is not None else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value
