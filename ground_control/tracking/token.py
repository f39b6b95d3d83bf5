"""Tracking tokens: the secret part of a recipient's tracking link.

A token is ``base64url(HMAC-SHA256(secret, "lmf-tracking" + nonce))`` (256 bits, 43 characters),
the nonce 16 random bytes (``secrets``) stored per parcel. Derived, not stored: the parcel
resource can show its ``tracking_url`` at any time, and a database dump without the server secret
gives no link. The database keeps ``SHA-256(token)`` under a unique index; ``GET /track/{token}``
hashes what it is given and looks the hash up. That lookup is safe against timing attacks: an
attacker controls the token, not its hash, so how fast the index answers tells them nothing about
any stored hash (no byte-by-byte comparison of secrets happens). Pure: no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

NONCE_BYTES = 16
#: base64url of 32 bytes, unpadded
TOKEN_CHARS = 43


@dataclass(frozen=True)
class IssuedToken:
    token: str     # goes into the link, never stored
    nonce: str     # hex; stored
    hash: str      # hex SHA-256 of the token; stored (unique), the lookup key


def derive_token(secret: bytes, nonce_hex: str) -> str:
    digest = hmac.new(secret, b"lmf-tracking\x00" + bytes.fromhex(nonce_hex), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    """The lookup key of any string (malformed ones too, so unknown and malformed cost the same)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue(secret: bytes) -> IssuedToken:
    nonce = secrets.token_bytes(NONCE_BYTES).hex()
    token = derive_token(secret, nonce)
    return IssuedToken(token=token, nonce=nonce, hash=token_hash(token))


def tracking_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/track/{token}"
