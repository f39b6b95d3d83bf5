"""Alembic migrations upgrade, downgrade and upgrade again on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect

from ground_control.db.migrate import downgrade, upgrade
from ground_control.db.models import Base
from ground_control.db.session import make_engine


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names


async def test_upgrade_downgrade_roundtrip(db_url):
    await asyncio.to_thread(upgrade, db_url)
    assert set(Base.metadata.tables) <= await _tables(db_url)
    await asyncio.to_thread(downgrade, db_url, "base")
    assert not set(Base.metadata.tables) & await _tables(db_url)
    await asyncio.to_thread(upgrade, db_url)
    assert set(Base.metadata.tables) <= await _tables(db_url)


def test_cli_commands_exist():
    from click.testing import CliRunner

    from ground_control.cli import db, serve

    assert {"upgrade", "current", "downgrade"} <= set(db.commands)
    assert CliRunner().invoke(serve, ["--help"]).exit_code == 0


async def test_upgrade_keeps_the_generated_jwt_secret_so_issued_tokens_stay_valid(db_url):
    """0016 moves the JWT secret from auth_secrets into server_secrets: a token signed with the
    old stored secret verifies after the upgrade, and downgrade puts the secret back."""
    from datetime import timedelta

    from sqlalchemy import text

    from ground_control.auth import tokens
    from ground_control.db import server_secrets
    from ground_control.db.models import utcnow

    await asyncio.to_thread(upgrade, db_url, "0015_webhook_owner")
    old = "Zk3" + "q" * 61                   # what the old code stored: token_urlsafe(48), 64 chars
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO auth_secrets (name, value, created_at) VALUES ('jwt', :v, :t)"),
                               {"v": old, "t": utcnow() - timedelta(days=3)})
        token = tokens.issue(old, "mia", utcnow(), 600)

        await asyncio.to_thread(upgrade, db_url)
        assert "auth_secrets" not in await _tables(db_url)
        server_secrets._cache.clear()
        assert tokens.subject(await server_secrets.engine_secret(engine, "jwt"), token) == "mia"

        await asyncio.to_thread(downgrade, db_url, "0015_webhook_owner")
        async with engine.connect() as conn:
            restored = (await conn.execute(text("SELECT value FROM auth_secrets WHERE name = 'jwt'"))).scalar()
            moved = (await conn.execute(text("SELECT count(*) FROM server_secrets WHERE name = 'jwt'"))).scalar()
        assert restored == old and moved == 0
    finally:
        server_secrets._cache.clear()
        await engine.dispose()
