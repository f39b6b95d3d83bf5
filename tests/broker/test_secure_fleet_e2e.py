"""The whole path secured: ground control on a TLS, dynamic-security Mosquitto provisions its
own account, registers a vehicle and hands out its credential; the real agent (on a simulated
drone) logs in with that credential over TLS and delivers a parcel."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from broker_harness import ADMIN_PASSWORD, ADMIN_USER
from edge_agent.agent import Agent
from fleet_protocol.signing import public_pem
from ground_control.api.app import create_app
from ground_control.auth.bootstrap import bearer, ensure_api_key_async
from ground_control.settings import Settings
from ground_control.signing.keys import load_gc_key
from sitl import SimFleet

pytestmark = pytest.mark.timeout(300)
HOME = (52.52, 13.405)


async def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_agent_delivers_with_its_issued_credential_over_tls(tls_broker, tls_files, tmp_path):
    url = f"mqtts://localhost:{tls_broker.port}"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fleet.db", mqtt_url=url, mqtt_ca_file=str(tls_files.ca.cert),
        mqtt_username="ground-control", mqtt_password="gc-e2e-pw", mqtt_client_id="ground-control",
        broker_admin="dynsec", broker_admin_username=ADMIN_USER, broker_admin_password=ADMIN_PASSWORD,
        dispatch_interval_s=0.2, mission_ack_timeout_s=10.0, telemetry_flush_interval_s=0.1, planner_kind="greedy",
    )
    app = create_app(settings)
    vid = f"d-{uuid.uuid4().hex[:6]}"
    with SimFleet(copters=1, home=HOME, speedup=20.0, base_port=0) as fleet:
        async with app.router.lifespan_context(app):
            key = await ensure_api_key_async(app.state.sessionmaker, f"test-admin-{vid}", "admin")
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gc",
                                         headers=bearer(key)) as c:
                await wait_for(lambda: _true(app.state.runtime.connected), 60, "ground control on its own account")
                assert (await c.post("/hubs", json={"id": "hub", "lat": HOME[0], "lon": HOME[1]})).status_code == 201
                r = await c.post("/vehicles", json={"id": vid, "type": "drone", "hub_id": "hub", "payload_kg": 2.5,
                                                    "battery_wh": 500, "wh_per_km": 20, "cruise_speed_mps": 12})
                assert r.status_code == 201, r.text
                creds = r.json()["broker_credentials"]
                agent = Agent(vehicle_id=vid, mavlink_url=f"tcp:127.0.0.1:{fleet.vehicles[0].port}", mqtt_url=url,
                              mqtt_username=creds["username"], mqtt_password=creds["password"],
                              ca_cert=str(tls_files.ca.cert), outbox_path=str(tmp_path / "outbox.db"),
                              gc_public_keys=(public_pem(load_gc_key(settings)),))
                r = await c.put(f"/vehicles/{vid}/public-key", json={"public_key": public_pem(agent.signing_key)})
                assert r.status_code == 200, r.text
                task = asyncio.create_task(agent.run())
                try:
                    await wait_for(lambda: _online(c, vid), 60, "the vehicle online")
                    r = await c.post("/parcels", json={
                        "id": f"p-{vid}", "weight_kg": 1.0, "size": "small", "hub_id": "hub", "lat": HOME[0] + 0.001,
                        "lon": HOME[1] + 0.001, "address": "Torstr. 1", "recipient": {"name": "Ada", "phone": "+49 30 123456"}})
                    assert r.status_code == 201, r.text
                    try:
                        await wait_for(lambda: _state(c, f"p-{vid}", "delivered"), 200, "the parcel delivered")
                    except AssertionError as exc:   # say where it got stuck
                        parcel = (await c.get(f"/parcels/p-{vid}")).json()
                        raise AssertionError(f"{exc}: parcel {parcel['state']}, waiting {parcel.get('waiting_reason')}, "
                                             f"mission {parcel.get('mission_id')}") from None
                finally:
                    agent.stop()
                    await asyncio.wait_for(task, 15)


async def _true(value: bool) -> bool:
    return value


async def _online(c: httpx.AsyncClient, vid: str) -> bool:
    return (await c.get(f"/vehicles/{vid}")).json()["online"]


async def _state(c: httpx.AsyncClient, pid: str, state: str) -> bool:
    return (await c.get(f"/parcels/{pid}")).json()["state"] == state
