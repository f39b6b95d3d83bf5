"""Secrets ground control generates itself on first use and keeps in the database
(``server_secrets``), so they survive restarts and every replica on the same database uses the
same one. Created once, never changed: the value is cached per process after the first read."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import ServerSecret

SECRET_BYTES = 32
_cache: dict[tuple[str, str], bytes] = {}


async def server_secret(session: AsyncSession, name: str) -> bytes:
    """The secret called ``name``, created (32 random bytes) if the database has none yet.

    Uses its own short session on the same engine, so the caller's transaction is untouched;
    two replicas creating it at once: the loser's insert fails on the primary key and it reads
    the winner's value."""
    engine = session.bind
    key = (str(getattr(engine, "url", "")), name)
    if key in _cache:
        return _cache[key]
    async with AsyncSession(bind=engine) as s:
        row = await s.get(ServerSecret, name)
        if row is None:
            s.add(ServerSecret(name=name, value=secrets.token_bytes(SECRET_BYTES).hex()))
            try:
                await s.commit()
            except IntegrityError:
                await s.rollback()
            row = await s.get(ServerSecret, name, populate_existing=True)
        assert row is not None
        value = bytes.fromhex(row.value)
    _cache[key] = value
    return value
