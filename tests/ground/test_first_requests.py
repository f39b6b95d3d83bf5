"""The first requests a new ground control serves arrive together (an import script, a console
reconnecting): they must not wait on each other. Secrets generated into the database used to be
created by the first requests, each holding a pool connection while asking for another; two at
once exhausted SQLite's pool of two and every request hung for the pool's 60 s timeout."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ground_control.api.app import create_app
from ground_control.auth.bootstrap import bearer, new_bootstrap_key
from ground_control.db import server_secrets
from ground_control.settings import Settings
from gc_helpers import HUB, parcel


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_concurrent_first_parcels_on_a_fresh_database_all_answer_promptly(db_url):
    server_secrets._cache.clear()      # a fresh process: nothing generated or read yet
    key = new_bootstrap_key()
    app = create_app(Settings(database_url=db_url, mqtt_enabled=False, bootstrap_api_key=key))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                     headers=bearer(key), timeout=90) as c:
            assert (await c.post("/hubs", json=HUB)).status_code == 201
            answers = await asyncio.wait_for(
                asyncio.gather(*(c.post("/parcels", json=parcel(f"first-{i}")) for i in range(10))), timeout=30)
            assert [r.status_code for r in answers] == [201] * 10, [r.text for r in answers if r.status_code != 201]
            page = (await c.get(f"/track/{answers[0].json()['tracking_url'].rsplit('/track/', 1)[1]}/status")).json()
            assert page["state"] == "created"
