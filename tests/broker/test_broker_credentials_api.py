"""The vehicle endpoints provision, revoke and rotate broker credentials on a real dynsec
Mosquitto; a broker that cannot be reached never loses a vehicle."""

from __future__ import annotations

import uuid

import httpx
import pytest

from broker_harness import ADMIN_PASSWORD, ADMIN_USER
from ground_control.api.app import create_app
from ground_control.auth.bootstrap import bearer, ensure_api_key_async
from ground_control.embedded.broker import free_port
from ground_control.settings import Settings
from fleet_protocol import topics
from mqtt_probe import client, refused

pytestmark = pytest.mark.timeout(60)
HUB = {"id": "hub", "lat": 52.52, "lon": 13.405}


def vehicle(vid: str) -> dict:
    return {"id": vid, "type": "drone", "hub_id": "hub", "payload_kg": 2.5, "battery_wh": 500,
            "wh_per_km": 20, "cruise_speed_mps": 12}


async def api(tmp_path, db: str | None = None, **kw):
    db = db or f"fleet-{uuid.uuid4().hex[:6]}.db"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/{db}", mqtt_enabled=False, **kw)
    app = create_app(settings)
    cm = app.router.lifespan_context(app)
    await cm.__aenter__()
    key = await ensure_api_key_async(app.state.sessionmaker, f"test-admin-{uuid.uuid4().hex[:8]}", "admin")
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gc", headers=bearer(key))
    await c.post("/hubs", json=HUB)   # 201, or 409 when the database is reused

    async def close() -> None:
        await c.aclose()
        await cm.__aexit__(None, None, None)
    return c, close


def dynsec_settings(port: int) -> dict:
    return dict(broker_admin="dynsec", mqtt_url=f"mqtt://127.0.0.1:{port}", broker_admin_username=ADMIN_USER,
                broker_admin_password=ADMIN_PASSWORD, broker_admin_timeout_s=5)


async def test_register_disable_enable_rotate_delete(dynsec_broker, tmp_path):
    port = dynsec_broker.port
    c, close = await api(tmp_path, **dynsec_settings(port))
    vid = f"d-{uuid.uuid4().hex[:6]}"
    try:
        r = await c.post("/vehicles", json=vehicle(vid))
        assert r.status_code == 201, r.text
        creds = r.json()["broker_credentials"]
        assert creds["status"] == "issued" and creds["username"] == vid and len(creds["password"]) >= 32
        assert "password" not in str((await c.get(f"/vehicles/{vid}")).json())   # shown once
        assert not await refused(port, vid, creds["password"])

        assert (await c.patch(f"/vehicles/{vid}", json={"enabled": False})).status_code == 200
        assert await refused(port, vid, creds["password"])
        r = await c.post(f"/vehicles/{vid}/broker-credentials")
        assert r.status_code == 409 and "disabled" in r.json()["detail"]
        assert (await c.patch(f"/vehicles/{vid}", json={"enabled": True})).status_code == 200
        assert not await refused(port, vid, creds["password"])
        async with client(port, vid, creds["password"]) as agent:   # a repeated enable leaves it alone
            assert (await c.patch(f"/vehicles/{vid}", json={"enabled": True})).status_code == 200
            await agent.publish(topics.event(vid), b"still connected", qos=1)

        r = await c.post(f"/vehicles/{vid}/broker-credentials")
        assert r.status_code == 200, r.text
        new = r.json()["password"]
        assert new != creds["password"]
        assert await refused(port, vid, creds["password"])
        assert not await refused(port, vid, new)

        r = await c.post(f"/vehicles/{vid}/declare-lost", json={"reason": "stolen at the hub"})
        assert r.status_code == 200, r.text
        assert await refused(port, vid, new)

        assert (await c.delete(f"/vehicles/{vid}")).status_code == 204
        assert (await c.patch(f"/vehicles/{vid}", json={"enabled": True})).status_code == 404
        assert await refused(port, vid, new)
        assert (await c.post(f"/vehicles/{vid}/broker-credentials")).status_code == 404
    finally:
        await close()


async def test_an_unreachable_broker_keeps_the_vehicle_and_says_so(tmp_path):
    dead_port = free_port()   # nobody listens here
    c, close = await api(tmp_path, **dynsec_settings(dead_port))
    try:
        r = await c.post("/vehicles", json=vehicle("d-offline-broker"))
        assert r.status_code == 201, r.text
        creds = r.json()["broker_credentials"]
        assert creds["status"] == "failed" and creds["password"] is None
        assert "POST /vehicles/d-offline-broker/broker-credentials" in creds["reason"]
        assert (await c.get("/vehicles/d-offline-broker")).status_code == 200

        r = await c.post("/vehicles/d-offline-broker/broker-credentials")
        assert r.status_code == 502 and "no credential issued" in r.json()["detail"]
        r = await c.patch("/vehicles/d-offline-broker", json={"enabled": False})
        assert r.status_code == 502 and "still accepts" in r.json()["detail"]
        assert (await c.get("/vehicles/d-offline-broker")).json()["enabled"] is False
        r = await c.delete("/vehicles/d-offline-broker")
        assert r.status_code == 502 and "not deleted" in r.json()["detail"]
        assert (await c.get("/vehicles/d-offline-broker")).status_code == 200
    finally:
        await close()


async def test_a_vehicle_registered_while_the_broker_was_down_gets_its_credential_later(dynsec_broker, tmp_path):
    """Registration failed at the broker; the admin's re-issue provisions it in full."""
    c, close = await api(tmp_path, "late.db", **{**dynsec_settings(dynsec_broker.port), "broker_admin_password": "wrong"})
    try:
        r = await c.post("/vehicles", json=vehicle("d-late"))
        assert r.json()["broker_credentials"]["status"] == "failed"
    finally:
        await close()
    c, close = await api(tmp_path, "late.db", **dynsec_settings(dynsec_broker.port))
    try:
        r = await c.post("/vehicles/d-late/broker-credentials")
        assert r.status_code == 200
        assert not await refused(dynsec_broker.port, "d-late", r.json()["password"])
    finally:
        await close()


async def test_without_a_managed_broker_registration_says_so(tmp_path):
    c, close = await api(tmp_path)   # FLEET_BROKER_ADMIN defaults to none
    try:
        r = await c.post("/vehicles", json=vehicle("d-plain"))
        assert r.status_code == 201
        creds = r.json()["broker_credentials"]
        assert creds["status"] == "not_managed" and "FLEET_BROKER_ADMIN=none" in creds["reason"]
        r = await c.post("/vehicles/d-plain/broker-credentials")
        assert r.status_code == 409 and "not managed" in r.json()["detail"]
        assert (await c.patch("/vehicles/d-plain", json={"enabled": False})).status_code == 200
        assert (await c.delete("/vehicles/d-plain")).status_code == 204
    finally:
        await close()


def test_dynsec_without_an_admin_password_fails_at_start():
    with pytest.raises(ValueError, match="FLEET_BROKER_ADMIN_PASSWORD"):
        create_app(Settings(broker_admin="dynsec", mqtt_enabled=False))
