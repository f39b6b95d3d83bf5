"""Fixtures for ground-control tests: a fresh database per test on SQLite and, when reachable,
on PostgreSQL (a throwaway ``test_<random>`` database created and dropped via asyncpg), and an
app + httpx client with its lifespan running."""

from __future__ import annotations

from typing import AsyncIterator

import httpx
import pytest

from ground_control.api.app import create_app
from gc_helpers import create_pg_database, drop_pg_database, headers_for, postgres_available
from ground_control.settings import Settings

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
    """API only (MQTT off): for validation and CRUD tests. Authenticated as an admin (an API
    key); other roles: ``gc_helpers.headers_for``."""
    app = create_app(Settings(database_url=db_url, mqtt_enabled=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers=await headers_for(app, "admin")) as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


