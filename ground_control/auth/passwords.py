"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
MIN_LENGTH = 12
MAX_LENGTH = 1024   # argon2 takes any length; a cap keeps a hostile login from costing more

# verified against when the user does not exist, so an unknown name costs as much time as a
# wrong password and the answer time does not tell which names exist
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; always spends one argon2 verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random password for bootstrap and the demo (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"password shorter than {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password longer than {MAX_LENGTH} characters"
    return None
