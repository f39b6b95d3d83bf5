"""Fixtures for ground-control tests: a fresh database per test on SQLite and, when reachable,
on PostgreSQL (a throwaway ``test_<random>`` database created and dropped via asyncpg), and an
app + httpx client with its lifespan running."""

from __future__ import annotations

import os
import uuid
from typing import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from ground_control.api.app import create_app
from ground_control.embedded.broker import port_open
from ground_control.settings import Settings

PG_URL = os.environ.get("FLEET_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    if os.environ.get("FLEET_TEST_POSTGRES_URL"):
        return True
    u = make_url(PG_URL)
    return port_open(u.host or "127.0.0.1", u.port or 5432)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_pg_database() -> str:
    import asyncpg

    name = "test_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(_asyncpg_dsn(PG_URL))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(url: str) -> None:
    import asyncpg

    name = make_url(url).database
    conn = await asyncpg.connect(_asyncpg_dsn(PG_URL))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/fleet.db"
        return
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable")
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture()
async def client(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """API only (MQTT off): for validation and CRUD tests."""
    app = create_app(Settings(database_url=db_url, mqtt_enabled=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


