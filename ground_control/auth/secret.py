"""The JWT signing secret: FLEET_AUTH_SECRET when set, else one generated on first use and
stored in the database, so every ground-control replica on that database signs and checks
with the same key. Rotating it (new setting, or deleting the row) logs every user out."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ground_control.db.models import AuthSecret

JWT_SECRET = "jwt"
MIN_LENGTH = 32


async def signing_secret(configured: str | None, sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    if configured:
        return configured
    async with sessionmaker() as session:
        row = await session.get(AuthSecret, JWT_SECRET)
        if row is not None:
            return row.value
        session.add(AuthSecret(name=JWT_SECRET, value=secrets.token_urlsafe(48)))
        try:
            await session.commit()
        except IntegrityError:      # another replica stored one first: use theirs
            await session.rollback()
    async with sessionmaker() as session:
        row = await session.get(AuthSecret, JWT_SECRET)
        assert row is not None
        return row.value
