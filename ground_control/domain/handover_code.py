"""Robot handover codes: the recipient tells the code to the operator (or types it on the robot's
app), and only the right code releases the parcel. Pure: stdlib hashing, no I/O.

Design (why both a salt and a hash):

* the code is *derived*, not stored: ``HMAC-SHA256(server secret, per-parcel random salt)``
  reduced to 6 digits. With the secret, ground control can show the code again later (a
  recipient tracking page) from the salt alone;
* the database keeps only the salt and ``scrypt(code, salt)``. Checking a code needs no secret
  (so rotating the secret never locks out parcels already issued), and a database dump without
  the secret gives no codes: each of the 10^6 candidates of each parcel costs one scrypt.

Six digits are guessable offline by anyone holding a dump, given time; online they are not:
the API counts wrong attempts per parcel and locks the handover after a few
(``Settings.handover_max_attempts``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

CODE_DIGITS = 6
SALT_BYTES = 16
#: scrypt cost: 1 MiB of memory per hash. Every parcel gets a code at creation (import: one per
#: row), so the cost is paid per parcel; 16 ms per hash measured on 2 busy cores (docs/api.md)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**10, 8, 1


@dataclass(frozen=True)
class IssuedCode:
    code: str        # given out once, in the parcel's creation (or import) response
    salt: str        # hex; stored
    hash: str        # hex scrypt(code, salt); stored


def derive_code(secret: bytes, salt: bytes) -> str:
    """The parcel's code: the same secret and salt always give the same code."""
    digest = hmac.new(secret, b"lmf-handover-code\x00" + salt, hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def code_hash(code: str, salt: bytes) -> str:
    return hashlib.scrypt(code.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32).hex()


def issue(secret: bytes) -> IssuedCode:
    salt = secrets.token_bytes(SALT_BYTES)
    code = derive_code(secret, salt)
    return IssuedCode(code=code, salt=salt.hex(), hash=code_hash(code, salt))


def shown_code(secret: bytes, salt_hex: str) -> str:
    """The code again, for the recipient (needs the server secret the code was issued with)."""
    return derive_code(secret, bytes.fromhex(salt_hex))


def well_formed(code: str | None) -> bool:
    return code is not None and len(code) == CODE_DIGITS and code.isascii() and code.isdigit()


def matches(code: str | None, salt_hex: str, hash_hex: str) -> bool:
    """Whether ``code`` is the parcel's code (constant-time comparison of the hashes)."""
    if not well_formed(code):
        return False
    assert code is not None
    return hmac.compare_digest(code_hash(code, bytes.fromhex(salt_hex)), hash_hex)
