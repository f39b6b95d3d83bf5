"""Users and API keys in the database: creation, lookup for authentication, disable/revoke.
Used by the HTTP admin endpoints, the CLI and the bootstrap helpers alike."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.auth import api_keys, passwords
from ground_control.auth.principal import Principal
from ground_control.auth.roles import Role
from ground_control.db.models import ApiKey, User, utcnow
from ground_control.db.repositories import Conflict, Invalid

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
# last_used_at is written at most this often per key: not one UPDATE per request
LAST_USED_GRANULARITY = timedelta(seconds=60)


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise Invalid("name: 1-64 characters of letters, digits, _ . @ -, starting with a letter or digit")
    return name


def _hubs(hubs: list[str] | tuple[str, ...] | None) -> list[str] | None:
    return sorted(set(hubs)) if hubs is not None else None


async def create_user(session: AsyncSession, name: str, role: Role, password: str,
                      hubs: list[str] | None = None) -> User:
    check_name(name)
    problem = passwords.password_problem(password)
    if problem:
        raise Invalid(problem)
    if await session.get(User, name) is not None:
        raise Conflict(f"user {name!r} already exists")
    user = User(name=name, role=role.value, password_hash=passwords.hash_password(password),
                hubs=_hubs(hubs), enabled=True, created_at=utcnow())
    session.add(user)
    await session.flush()
    return user


async def create_api_key(session: AsyncSession, name: str, role: Role, hubs: list[str] | None = None,
                         key: str | None = None) -> tuple[ApiKey, str]:
    """A new key (or one given, e.g. a bootstrap key from the environment); returns the row and
    the key itself, which is never stored."""
    check_name(name)
    if await session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"API key {name!r} already exists")
    new = api_keys.from_secret(key) if key is not None else api_keys.new_key()
    row = ApiKey(id=new.id, name=name, key_hash=new.key_hash, prefix=new.prefix, role=role.value,
                 hubs=_hubs(hubs), created_at=utcnow())
    session.add(row)
    await session.flush()
    return row, new.key


def user_principal(user: User) -> Principal:
    return Principal(user.name, "user", Role(user.role), tuple(user.hubs) if user.hubs is not None else None)


def key_principal(key: ApiKey) -> Principal:
    return Principal(key.name, "api_key", Role(key.role), tuple(key.hubs) if key.hubs is not None else None)


async def active_user(session: AsyncSession, name: str) -> User | None:
    user = await session.get(User, name)
    return user if user is not None and user.enabled else None


async def principal_for_key(session: AsyncSession, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key (and its last-used time refreshed), or None."""
    row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == api_keys.key_hash(key)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_GRANULARITY:
        row.last_used_at = now
        await session.commit()
    return key_principal(row)


async def revoke_api_key(session: AsyncSession, key_id_or_name: str) -> ApiKey | None:
    row = await session.get(ApiKey, key_id_or_name) or await session.scalar(
        select(ApiKey).where(ApiKey.name == key_id_or_name))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
