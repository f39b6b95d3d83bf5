"""Credentials for first start-up and for tools that drive the API over HTTP (the demo,
benchmarks, the chaos harness):

- ``FLEET_BOOTSTRAP_API_KEY`` (settings.bootstrap_api_key): ``fleet serve`` ensures an admin API
  key with exactly that value exists before it answers requests (``apply_bootstrap_key``). A
  harness that starts the server as a child process generates a key, passes it in the child's
  environment and sends it as ``Authorization: Bearer <key>``.
- ``ensure_api_key(database_url, name, role)``: a fresh key named ``name`` straight in the
  database (the old key of that name stops working); for in-process tools.
- ``ensure_admin_user``: the demo's login for a person, with a generated password.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ground_control.auth import api_keys, passwords, store
from ground_control.auth.roles import Role
from ground_control.db.models import ApiKey, User

BOOTSTRAP_KEY_NAME = "bootstrap"


def bearer(key: str) -> dict[str, str]:
    """Headers carrying a credential."""
    return {"Authorization": f"Bearer {key}"}


def new_bootstrap_key() -> str:
    """A key to hand to a child ``fleet serve`` as FLEET_BOOTSTRAP_API_KEY."""
    return api_keys.new_key().key


async def apply_bootstrap_key(sessionmaker: async_sessionmaker[AsyncSession], key: str) -> None:
    """Make ``key`` a valid admin API key (idempotent; several replicas may race here)."""
    async with sessionmaker() as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == api_keys.key_hash(key)))
        if row is not None:
            return   # present (a revoked one stays revoked: revocation wins over configuration)
        existing = await session.scalar(select(ApiKey).where(ApiKey.name == BOOTSTRAP_KEY_NAME))
        name = BOOTSTRAP_KEY_NAME if existing is None else f"{BOOTSTRAP_KEY_NAME}-{api_keys.from_secret(key).id[:8]}"
        await store.create_api_key(session, name, Role.admin, key=key)
        try:
            await session.commit()
        except Exception:  # noqa: BLE001 - another replica inserted it first
            await session.rollback()


async def ensure_api_key_async(sessionmaker: async_sessionmaker[AsyncSession], name: str, role: Role | str,
                               hubs: list[str] | None = None) -> str:
    """A new key for ``name`` (created, or the existing one re-keyed and un-revoked)."""
    role = Role(role)
    async with sessionmaker() as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.name == name))
        if row is None:
            _, key = await store.create_api_key(session, name, role, hubs)
        else:
            new = api_keys.new_key()
            row.key_hash, row.prefix, row.role, row.hubs, row.revoked_at = new.key_hash, new.prefix, role.value, hubs, None
            key = new.key
        await session.commit()
        return key


async def ensure_admin_user(sessionmaker: async_sessionmaker[AsyncSession], name: str) -> str:
    """An enabled admin ``name`` with a freshly generated password, which is returned."""
    password = passwords.generate_password()
    async with sessionmaker() as session:
        user = await session.get(User, name)
        if user is None:
            await store.create_user(session, name, Role.admin, password)
        else:
            user.password_hash, user.role, user.enabled, user.hubs = (
                passwords.hash_password(password), Role.admin.value, True, None)
        await session.commit()
    return password


async def _with_database(database_url: str, fn, *args):  # type: ignore[no-untyped-def]
    from ground_control.db.session import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    try:
        return await fn(make_sessionmaker(engine), *args)
    finally:
        await engine.dispose()


def ensure_api_key(database_url: str, name: str, role: Role | str, hubs: list[str] | None = None) -> str:
    """Blocking: migrate the database if needed and return a working key for ``name``."""
    from ground_control.db.migrate import upgrade

    upgrade(database_url)
    return asyncio.run(_with_database(database_url, ensure_api_key_async, name, role, hubs))
