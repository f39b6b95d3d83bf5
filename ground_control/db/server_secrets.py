"""Secrets ground control generates itself on first use and keeps in the database
(``server_secrets``), so they survive restarts and every replica on the same database uses the
same one: ``handover`` (handover codes and tracking links) and ``jwt`` (users' access tokens).
Created once, never changed: the value is cached per process after the first read."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from ground_control.db.models import ServerSecret

SECRET_BYTES = 32
_cache: dict[tuple[str, str], bytes] = {}


async def server_secret(session: AsyncSession, name: str) -> bytes:
    """The secret called ``name``, created (32 random bytes) if the database has none yet.

    Uses its own short transaction on the session's engine, so the caller's transaction is
    untouched."""
    bind = session.bind
    engine = bind.engine if isinstance(bind, AsyncConnection) else bind
    assert isinstance(engine, AsyncEngine)
    return await engine_secret(engine, name)


async def engine_secret(engine: AsyncEngine, name: str) -> bytes:
    """``server_secret`` for code holding an engine rather than a session.

    Missing, it is inserted-or-ignored, then read back: when two replicas create it at once,
    the second insert does nothing (no error, no aborted transaction) and both read the one row
    that landed."""
    key = (str(engine.url), name)
    if key in _cache:
        return _cache[key]
    table = ServerSecret.__table__
    query = select(table.c.value).where(table.c.name == name)
    async with engine.connect() as conn:
        stored = await conn.scalar(query)
    if stored is None:
        fresh = {"name": name, "value": secrets.token_bytes(SECRET_BYTES).hex()}
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        async with engine.begin() as conn:
            await conn.execute(dialect.insert(table).values(**fresh).on_conflict_do_nothing(index_elements=["name"]))
            stored = await conn.scalar(query)
    assert stored is not None
    value = bytes.fromhex(stored)
    _cache[key] = value
    return value
