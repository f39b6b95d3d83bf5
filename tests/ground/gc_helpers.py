"""Shared test data and PostgreSQL helpers for ground-control tests."""

from __future__ import annotations

import os
import uuid
from typing import Any

from sqlalchemy.engine import make_url

from ground_control.embedded.broker import port_open

PG_URL = os.environ.get("FLEET_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def headers_for(client_or_app: Any, role: str, hubs: list[str] | None = None) -> dict[str, str]:
    """``Authorization`` headers of a new API key with ``role`` (and optional hub limit) on the
    running app behind a test client (or the app itself): to act as another role than the
    admin the shared clients authenticate as."""
    from ground_control.auth.bootstrap import bearer, ensure_api_key_async

    app = getattr(client_or_app, "app", client_or_app)
    key = await ensure_api_key_async(app.state.sessionmaker, f"test-{role}-{uuid.uuid4().hex[:8]}", role, hubs)
    return bearer(key)


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


HUB = {"id": "hub-1", "name": "Central", "lat": 52.52, "lon": 13.405}
VEHICLE = {"id": "drone-1", "type": "drone", "hub_id": "hub-1", "payload_kg": 2.5, "battery_wh": 500,
           "wh_per_km": 20, "cruise_speed_mps": 12}


def parcel(pid: str = "p-1", **kw: object) -> dict:
    body = {"id": pid, "weight_kg": 1.2, "size": "small", "hub_id": "hub-1", "lat": 52.53, "lon": 13.41,
            "address": "Torstr. 1", "recipient": {"name": "Ada", "phone": "+49 30 123456"}, "priority": 3}
    body.update(kw)
    return body
