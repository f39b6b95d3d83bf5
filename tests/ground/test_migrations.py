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
