"""A parcel delivered by a simulated drone (MAVLink simulator + the real agent + ground control
over the real broker) gets a footprint measured from its battery telemetry."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from gc_runner import GroundControl, e2e_settings, wait_for

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]   # ~21 s: a real flight at 20x
HOME = (52.52, 13.405)
PACK_WH = 100.0        # the registered pack is the simulator's pack, so % x Wh is the energy used
NOMINAL_V = 14.8


async def test_delivered_parcel_on_the_sim_has_a_telemetry_footprint(mqtt_broker, unique_id, tmp_path):
    from edge_agent.agent import Agent
    from fleet_protocol.signing import public_pem
    from ground_control.signing.keys import load_gc_key
    from sitl import SimFleet

    vid = f"fd-{unique_id}"
    gc = await GroundControl(e2e_settings(f"sqlite+aiosqlite:///{tmp_path}/fleet.db", mqtt_broker.url, unique_id,
                                          footprint_interval_s=0.5, mission_ack_timeout_s=15.0)).start()
    fleet = SimFleet(copters=1, home=HOME, speedup=20.0, base_port=0, battery_mah=PACK_WH / NOMINAL_V * 1000)
    agent = task = None
    try:
        c = gc.client
        assert (await c.post("/hubs", json={"id": "hub", "lat": HOME[0], "lon": HOME[1]})).status_code == 201
        r = await c.post("/vehicles", json={"id": vid, "type": "drone", "hub_id": "hub", "payload_kg": 2.5,
                                            "battery_wh": PACK_WH, "wh_per_km": 12, "cruise_speed_mps": 12,
                                            "release_bays": 1})
        assert r.status_code == 201, r.text
        await asyncio.to_thread(fleet.start)
        agent = Agent(vehicle_id=vid, mavlink_url=f"tcp:127.0.0.1:{fleet.vehicles[0].port}", mqtt_url=mqtt_broker.url,
                      vehicle_type="drone", max_payload_kg=2.5, battery_wh=PACK_WH, wh_per_km=12, telemetry_hz=2.0,
                      outbox_path=str(tmp_path / "outbox.db"), gc_public_keys=(public_pem(load_gc_key(gc.settings)),))
        task = asyncio.create_task(agent.run())
        r = await c.post("/parcels", json={"id": f"fp-{unique_id}", "weight_kg": 0.5, "size": "small", "hub_id": "hub",
                                           "lat": HOME[0] + 0.012, "lon": HOME[1], "recipient": {"name": "R", "email": "r@example.org"}})
        assert r.status_code == 201, r.text

        async def footprint():
            p = (await c.get(f"/parcels/fp-{unique_id}")).json()
            return p["footprint"] if p["state"] == "delivered" else None

        fp = await wait_for(footprint, timeout=150, what="the delivered parcel's footprint")
        assert fp["energy_source"] == "telemetry", fp
        assert 0 < fp["energy_wh"] < PACK_WH and fp["co2e_g"] > 0
        assert fp["van_co2e_g"] > fp["co2e_g"] and fp["distance_km"] > 2.0   # out and back, ~1.3 km each way
        report = (await c.get("/reports/footprint", params={"date": fp["computed_at"][:10]})).json()
        assert report["totals"]["from_telemetry"] == 1
    finally:
        if agent is not None:
            agent.stop()
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        await gc.stop()
        await gc.forget_session()
        await asyncio.to_thread(fleet.stop)
