"""Signatures of webhook deliveries (pure). The receiver recomputes HMAC-SHA256 with the
subscription's secret over ``f"{t}.{body}"`` and compares; the timestamp inside the signed text
lets it refuse old replays (docs/webhooks.md has a verification example)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "X-Fleet-Signature"


def new_secret() -> str:
    """A subscription secret: 256 random bits, prefixed so it is recognisable in a leak scan."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return mac.hexdigest()


def header_value(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex digest>``."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver does: parse the header, check the time window, compare in constant time."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - t) > tolerance_s:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, t, body))
