"""Ed25519 signatures on envelopes: the canonical bytes, signing, verification, key ids.

Pure (no I/O): keys come in as objects or text, files are the callers' business.

What is signed: the envelope's JSON object *without* its ``sig`` member, serialised canonically
(keys sorted, no whitespace, UTF-8, non-ASCII kept as is). The receiver rebuilds those bytes from
the parsed JSON object, not from its own model, so a signature survives any re-serialisation that
keeps the JSON values (key order, spacing, escapes), and it covers everything a receiver acts on:
``v``, ``type``, ``id`` (the nonce), ``vehicle_id`` (no re-targeting to another vehicle),
``ts``, ``valid_until`` and ``body``.

``sig`` is ``{"alg": "ed25519", "kid": <key id>, "value": <base64url signature>}``. The key id is
the first 16 hex digits of the SHA-256 of the raw 32-byte public key, so a receiver that trusts
several keys (rotation) picks the right one, and a person can compare keys by eye.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "ed25519"
#: clock difference tolerated between sender and receiver for ``ts`` and ``valid_until``
DEFAULT_SKEW_S = 30.0


class KeyFormatError(ValueError):
    """Text that is not an Ed25519 key."""


def canonical_bytes(raw: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: the JSON object without ``sig``, keys sorted, no spaces."""
    unsigned = {k: v for k, v in raw.items() if k != "sig"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---- keys ----------------------------------------------------------------------------------------
def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Fingerprint of the public key: 16 hex digits of SHA-256 over its raw 32 bytes."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return hashlib.sha256(raw_public(pub)).hexdigest()[:16]


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_private_pem(data: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError("the private key is not an Ed25519 key")
    return key


def load_public(text: str | bytes) -> Ed25519PublicKey:
    """A public key as PEM (SubjectPublicKeyInfo) or as base64 of its raw 32 bytes."""
    data = text.encode() if isinstance(text, str) else bytes(text)
    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFormatError("the public key is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(data, validate=True) if b"-" not in data and b"_" not in data else _unb64(data.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise KeyFormatError("a public key is PEM or base64 of 32 raw bytes") from None
    if len(raw) != 32:
        raise KeyFormatError(f"an Ed25519 public key has 32 bytes, not {len(raw)}")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise KeyFormatError(f"not an Ed25519 public key: {exc}") from None


def trust_set(keys: Iterable[Ed25519PublicKey | str | bytes]) -> dict[str, Ed25519PublicKey]:
    """Key id -> key, for verifying against several trusted keys (old and new during rotation)."""
    out: dict[str, Ed25519PublicKey] = {}
    for k in keys:
        pub = k if isinstance(k, Ed25519PublicKey) else load_public(k)
        out[key_id(pub)] = pub
    return out


# ---- signing -------------------------------------------------------------------------------------
def sign_raw(raw: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``raw`` (an envelope as JSON values) with its ``sig`` member added."""
    sig = key.sign(canonical_bytes(raw))
    return {**{k: v for k, v in raw.items() if k != "sig"},
            "sig": {"alg": ALG, "kid": key_id(key), "value": _b64(sig)}}


def sign_envelope(envelope: Any, key: Ed25519PrivateKey, *, ttl_s: float | None = None,
                  valid_until: datetime | None = None) -> bytes:
    """Wire bytes of a pydantic :class:`~fleet_protocol.envelope.Envelope`, signed. ``ttl_s``
    (from the envelope's ``ts``) or ``valid_until`` sets how long a receiver may act on it."""
    if ttl_s is not None:
        until = envelope.ts + timedelta(seconds=ttl_s)
        valid_until = until if valid_until is None else min(valid_until, until)
    if valid_until is not None:
        envelope = envelope.model_copy(update={"valid_until": valid_until.astimezone(timezone.utc)})
    raw = envelope.model_dump(mode="json", exclude_none=True)
    return json.dumps(sign_raw(raw, key), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# ---- verification --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """``ok`` or a stable ``reason`` code (unsigned, signature, unknown_key, expired,
    not_yet_valid) with words in ``detail``. ``kid`` and ``signed`` are set once the signature
    checked out (``signed`` is the exact byte string the signature covers)."""

    ok: bool
    reason: str = ""
    detail: str = ""
    kid: str | None = None
    signed: bytes | None = None
    signature: str | None = None


def verify_signature(raw: Mapping[str, Any], trusted: Mapping[str, Ed25519PublicKey]) -> Verdict:
    """Check ``raw['sig']`` against the trusted keys. Time is not looked at (see :func:`check_time`)."""
    sig = raw.get("sig")
    if sig is None:
        return Verdict(False, "unsigned", "the message carries no signature")
    if not isinstance(sig, dict) or sig.get("alg") != ALG or not isinstance(sig.get("kid"), str) \
            or not isinstance(sig.get("value"), str):
        return Verdict(False, "signature", "sig must be {alg: ed25519, kid, value}")
    key = trusted.get(sig["kid"])
    if key is None:
        return Verdict(False, "unknown_key", f"signed with key {sig['kid'][:32]!r}, which is not trusted")
    try:
        value = _unb64(sig["value"])
    except (binascii.Error, ValueError):
        return Verdict(False, "signature", "the signature is not base64url")
    signed = canonical_bytes(raw)
    try:
        key.verify(value, signed)
    except InvalidSignature:
        return Verdict(False, "signature", "the signature does not match the message (tampered, or another key)")
    return Verdict(True, kid=sig["kid"], signed=signed, signature=sig["value"])


def check_time(valid_until: datetime | None, ts: datetime, now: datetime, *, skew_s: float = DEFAULT_SKEW_S,
               require_valid_until: bool = True) -> Verdict:
    """A signed message is acted on only between ``ts - skew`` and ``valid_until + skew``."""
    skew = timedelta(seconds=skew_s)
    if valid_until is None:
        if require_valid_until:
            return Verdict(False, "expired", "the message has no valid_until")
        return Verdict(True)
    if now > valid_until + skew:
        return Verdict(False, "expired", f"valid until {valid_until.isoformat()}, now {now.isoformat()}")
    if ts > now + skew:
        return Verdict(False, "not_yet_valid", f"signed at {ts.isoformat()}, in the future (now {now.isoformat()})")
    return Verdict(True)


def verify_statement(signed: bytes, signature: str, public_key: str | bytes | Ed25519PublicKey) -> Verdict:
    """Verify a stored statement (a proof of delivery): ``signed`` are the exact bytes signed."""
    try:
        pub = public_key if isinstance(public_key, Ed25519PublicKey) else load_public(public_key)
        value = _unb64(signature)
    except (KeyFormatError, binascii.Error, ValueError) as exc:
        return Verdict(False, "signature", str(exc))
    try:
        pub.verify(value, signed)
    except InvalidSignature:
        return Verdict(False, "signature", "the signature does not match the statement")
    return Verdict(True, kid=key_id(pub), signed=signed, signature=signature)


def digest(raw: Mapping[str, Any]) -> str:
    """SHA-256 of the signed bytes: tells a redelivered copy from a different message."""
    return hashlib.sha256(canonical_bytes(raw)).hexdigest()
