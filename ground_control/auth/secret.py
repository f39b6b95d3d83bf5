"""The JWT signing secret: FLEET_AUTH_SECRET when set, else the server secret ``jwt``
(ground_control.db.server_secrets: generated once, stored in the database), so every
ground-control replica on that database signs and checks with the same key. Rotating it (new
setting, or deleting that row) logs every user out."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from ground_control.db.server_secrets import engine_secret

JWT_SECRET = "jwt"
MIN_LENGTH = 32


async def signing_secret(configured: str | None, engine: AsyncEngine) -> bytes:
    """The HMAC key: the setting's UTF-8 bytes (what PyJWT made of the string before), or the
    stored bytes."""
    if configured:
        return configured.encode()
    return await engine_secret(engine, JWT_SECRET)
