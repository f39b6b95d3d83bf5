"""Custody end to end over a real broker: a parcel aboard a vehicle stays with it through
restarts and broker outages, an operator cannot take it off by hand, refused parcels come back
and say why they wait, and only the carrying vehicle's nearby proof delivers a parcel."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from fake_vehicle import FakeVehicle
from fleet_protocol import DeliveredEvent, LatLon, Mission as ProtoMission, ProofOfDelivery, StopAction, VehicleState
from gc_runner import GroundControl, e2e_settings, wait_for
from ground_control.embedded.broker import free_port, launch_mosquitto, mosquitto_binary
import test_e2e
from test_e2e import (
    _add_drone, _assert_no_parcel_on_two_missions, _mission_state, _missions, _online, _parcel, _state_is, _ticked,
    all_in, setup_fleet, states,
)

gc_factory = test_e2e.gc_factory   # the fixture: ground control and fake vehicles on the shared broker

pytestmark = pytest.mark.timeout(120)


async def _hub(c):
    assert (await c.post("/hubs", json={"id": "hub", "lat": 52.52, "lon": 13.405})).status_code == 201


async def test_operator_cannot_take_a_parcel_off_a_vehicle(gc_factory, unique_id):
    make_gc, make_vehicle = gc_factory
    gc = await make_gc()
    c = gc.client
    v = await make_vehicle("hold", behaviour="hold")
    await setup_fleet(c, [v.vid], 1, unique_id)
    pid = f"p0-{unique_id}"
    await wait_for(lambda: _state_is(c, pid, "in_transit"), 40, "parcel aboard")
    before = await _parcel(c, pid)
    for to in ("created", "returned", "lost"):
        r = await c.post(f"/parcels/{pid}/transitions", json={"to": to, "reason": "re-plan it"})
        assert r.status_code == 409, (to, r.text)
        assert "declare-lost" in r.json()["detail"]
    assert "return_to_hub" in r.json()["detail"] or "lost only with its vehicle" in r.json()["detail"]
    after = await _parcel(c, pid)
    assert (after["state"], after["mission_id"], after["updated_at"]) == \
        (before["state"], before["mission_id"], before["updated_at"])
    assert len((await c.get(f"/parcels/{pid}/history", params={"limit": 500})).json()["items"]) == 4
    assert len(await _missions(c, v.vid)) == 1


async def test_agent_killed_mid_flight_and_restarted_continues_its_mission(gc_factory, unique_id, mqtt_broker):
    """kill -9 of the agent: the broker publishes its will (offline); the restarted agent
    resumes its saved mission and reports the rest. No parcel goes to another vehicle."""
    make_gc, make_vehicle = gc_factory
    gc = await make_gc()
    c = gc.client
    v = await make_vehicle("d1", step_s=0.2)
    v.proceed.clear()
    await setup_fleet(c, [v.vid], 2, unique_id)
    await wait_for(lambda: all_in("in_transit")(c), 40, "parcels aboard")
    spare = await make_vehicle("spare")
    await _add_drone(c, spare.vid)
    [m] = await _missions(c, v.vid)
    await v.status(VehicleState.offline)      # what the broker does with the will of a killed client
    await v.stop(clear_status=False)
    await wait_for(lambda: _online(c, v.vid, False), 40, "the vehicle offline")
    ticks = gc.app.state.runtime.dispatcher.ticks
    await wait_for(lambda: _ticked(gc, ticks + 5), 30, "five dispatch rounds")
    assert set((await states(c)).values()) == {"in_transit"}
    assert (await c.get(f"/missions/{m['id']}")).json()["state"] == "started"

    mission = ProtoMission.model_validate((await c.get(f"/missions/{m['id']}")).json()["payload"])
    again = FakeVehicle(mqtt_broker.host, mqtt_broker.port, v.vid, resume=mission)
    await again.start()
    try:
        await wait_for(lambda: all_in("delivered")(c), 30, "delivered after the restart")
        await wait_for(lambda: _mission_state_of(c, m["id"], "completed"), 40, "mission completed")
    finally:
        await again.stop()
    assert await _missions(c, spare.vid) == [] and spare.missions == []
    await _assert_no_parcel_on_two_missions(c)


async def _mission_state_of(c, mid, state):
    return (await c.get(f"/missions/{mid}")).json()["state"] == state


@pytest.fixture()
def restartable_mosquitto():
    """A private mosquitto (persistence on) that a test may restart gracefully (SIGTERM, then
    the same config and port): the conftest ``private_mosquitto`` removes its data on stop."""
    if mosquitto_binary() is None:
        pytest.skip("no mosquitto binary on this machine")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="lmf-mosquitto-restart-"))
    config = (f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
              f"persistence_location {workdir}/\nmax_queued_messages 100000\nlog_dest none\n")
    holder = {"broker": launch_mosquitto(config, port)}

    def restart():
        holder["broker"].stop()
        holder["broker"] = launch_mosquitto(config, port)

    holder["restart"] = restart
    yield holder
    holder["broker"].stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.slow
async def test_graceful_broker_restart_replans_nothing(restartable_mosquitto, db_url, unique_id):
    broker = restartable_mosquitto["broker"]
    gc = await GroundControl(e2e_settings(db_url, broker.url, unique_id)).start()
    c = gc.client
    fleet = [FakeVehicle(broker.host, broker.port, f"d{i}-{unique_id}", step_s=0.1) for i in range(3)]
    try:
        for v in fleet:
            v.proceed.clear()
            await v.start()
        await setup_fleet(c, [v.vid for v in fleet], 6, unique_id)
        await wait_for(lambda: all_in("in_transit")(c), 30, "every parcel aboard")
        missions_before = {m["id"] for m in (await c.get("/missions")).json()["items"]}
        restartable_mosquitto["restart"]()
        # everyone reconnects; wills and silence may mark vehicles offline meanwhile
        await wait_for(lambda: _reconnected(gc, fleet), 40, "ground control and the fleet reconnected")
        await wait_for(lambda: _all_online(c, fleet), 40, "the fleet online again")
        for v in fleet:
            v.proceed.set()
        await wait_for(lambda: all_in("delivered")(c), 40, "every parcel delivered")
        missions_after = {m["id"] for m in (await c.get("/missions")).json()["items"]}
        assert missions_after == missions_before
        for p in (await c.get("/parcels", params={"limit": 100})).json()["items"]:
            hist = [h["to_state"] for h in (await c.get(f"/parcels/{p['id']}/history", params={"limit": 500})).json()["items"]]
            assert hist == ["created", "planned", "dispatched", "in_transit", "delivered"], (p["id"], hist)
        await _assert_no_parcel_on_two_missions(c)
    finally:
        for v in fleet:
            await v.stop()
        await gc.stop()


async def _reconnected(gc, fleet):
    return gc.app.state.runtime.connected and all(v.connections >= 2 for v in fleet)


async def _all_online(c, fleet):
    return all([(await c.get(f"/vehicles/{v.vid}")).json()["online"] for v in fleet])


async def test_energy_refusal_expires_and_the_parcel_says_why_meanwhile(gc_factory, unique_id):
    make_gc, make_vehicle = gc_factory
    gc = await make_gc(exclusion_expiry_s=4.0)
    c = gc.client
    v = await make_vehicle("tired", behaviour="reject")
    v.reject_reason = "energy"
    await setup_fleet(c, [v.vid], 1, unique_id)
    pid = f"p0-{unique_id}"
    await wait_for(lambda: _waiting_code(c, pid, "excluded"), 40, "the parcel saying why it waits")
    p = await _parcel(c, pid)
    assert p["state"] == "created" and f"{v.vid} refused (energy) until" in p["waiting_reason"]
    assert p["waiting_since"] and [e["reason"] for e in p["exclusions"]] == ["energy"]
    listed = (await c.get("/parcels", params={"waiting_reason": "excluded"})).json()["items"]
    assert [x["id"] for x in listed] == [pid]
    assert (await c.get("/parcels", params={"waiting": "false", "hub_id": "hub"})).json()["total"] == 0

    v.behaviour = "deliver"          # charged meanwhile
    await wait_for(lambda: _state_is(c, pid, "delivered"), 30, "planned again after the exclusion expired")
    p = await _parcel(c, pid)
    assert p["waiting_reason"] is None and p["exclusions"] == [] and p["proof"]["vehicle_id"] == v.vid


async def _waiting_code(c, pid, code):
    return ((await _parcel(c, pid))["waiting_reason"] or "").startswith(code + ":")


async def test_no_online_vehicle_is_a_waiting_reason(gc_factory, unique_id):
    make_gc, _ = gc_factory
    gc = await make_gc()
    c = gc.client
    await setup_fleet(c, [f"off-{unique_id}"], 1, unique_id)
    await wait_for(lambda: _waiting_code(c, f"p0-{unique_id}", "no_vehicle"), 40, "no-vehicle reason")
    assert "online" in (await _parcel(c, f"p0-{unique_id}"))["waiting_reason"]


async def test_a_foreign_vehicles_delivered_is_refused(gc_factory, unique_id):
    make_gc, make_vehicle = gc_factory
    gc = await make_gc()
    c = gc.client
    holder = await make_vehicle("holder", behaviour="hold")
    intruder = await make_vehicle("intruder", behaviour="mute")   # registered or not, it is not the carrier
    await setup_fleet(c, [holder.vid], 1, unique_id)
    pid = f"p0-{unique_id}"
    await wait_for(lambda: _state_is(c, pid, "in_transit"), 40, "parcel aboard its vehicle")
    p = await _parcel(c, pid)
    assert p["vehicle_id"] == holder.vid
    drop = LatLon(lat=p["lat"], lon=p["lon"])
    proof = ProofOfDelivery(method=StopAction.release, position=drop, target=drop, distance_m=0,
                            delivered_at=datetime.now(timezone.utc), confirmed=True)
    await intruder.event(DeliveredEvent(mission_id=p["mission_id"], parcel_id=pid, proof=proof))
    await wait_for(lambda: _dead_lettered(c, intruder.vid), 40, "the intruder's event set aside")
    [dl] = (await c.get("/dead-letters", params={"vehicle_id": intruder.vid})).json()["items"]
    assert dl["reason"].startswith("refused:") and f"mission {p['mission_id']} of {holder.vid}" in dl["reason"]
    p = await _parcel(c, pid)
    assert p["state"] == "in_transit" and p["proof"] is None


async def _dead_lettered(c, vid):
    return (await c.get("/dead-letters", params={"vehicle_id": vid})).json()["items"] != []


async def test_a_proof_far_from_the_drop_off_is_refused(gc_factory, unique_id):
    """10 km away, claiming 0 m: not delivered. The parcel waits in ``delivery_failed`` (the
    vehicle's returned does not list it), says why, and an operator may then re-plan it."""
    make_gc, make_vehicle = gc_factory
    gc = await make_gc()
    c = gc.client
    v = await make_vehicle("liar")
    v.release_offset_deg, v.claimed_distance_m = 0.09, 0.0
    await setup_fleet(c, [v.vid], 1, unique_id)
    pid = f"p0-{unique_id}"
    await wait_for(lambda: _mission_state(c, "completed"), 40, "mission over")
    p = await _parcel(c, pid)
    assert p["state"] == "delivery_failed" and p["proof"] is None
    assert p["waiting_reason"].startswith("proof_rejected: released 10") and "claimed 0 m" in p["waiting_reason"]
    hist = (await c.get(f"/parcels/{pid}/history", params={"limit": 500})).json()["items"]
    assert hist[-1]["to_state"] == "delivery_failed" and hist[-1]["reason"].startswith("proof_rejected")
    ev = (await c.get("/events", params={"vehicle_id": v.vid, "kind": "delivered"})).json()["items"][0]
    assert "proof_rejected" in ev["note"]
    r = await c.post(f"/parcels/{pid}/transitions", json={"to": "created", "reason": "found at the hub"})
    assert r.status_code == 200, r.text


async def test_resends_wait_while_the_vehicle_is_offline(gc_factory, unique_id):
    """An ack timeout means nothing while we cannot hear the vehicle: the mission stays
    ``sent`` with its send count; once the vehicle is back and still silent, resends resume,
    then the mission fails AND an abort is queued (a copy may have arrived)."""
    make_gc, make_vehicle = gc_factory
    gc = await make_gc(mission_ack_timeout_s=1.5, mission_resend_count=1)
    c = gc.client
    v = await make_vehicle("mute", behaviour="mute")
    await setup_fleet(c, [v.vid], 1, unique_id)
    await wait_for(lambda: _state_is(c, f"p0-{unique_id}", "planned"), 40, "mission sent")
    v.telemetry_on = False
    await v.status(VehicleState.offline)
    await wait_for(lambda: _online(c, v.vid, False), 40, "offline")
    [m] = await _missions(c, v.vid)
    ticks = gc.app.state.runtime.dispatcher.ticks
    await wait_for(lambda: _ticked(gc, ticks + 20), 60, "twenty dispatch rounds (4 s and more)")
    m2 = (await c.get(f"/missions/{m['id']}")).json()
    assert (m2["state"], m2["send_count"]) == ("sent", m["send_count"])
    assert m2["unreachable_since"] is not None

    v.telemetry_on = True
    await v.status(VehicleState.online)
    await wait_for(lambda: _mission_state_of(c, m["id"], "failed"), 40, "failed after the resends once back")
    cmds = (await c.get(f"/vehicles/{v.vid}/commands")).json()["items"]
    assert [(x["action"], x["mission_id"]) for x in cmds] == [("abort", m["id"])]
    p = await _parcel(c, f"p0-{unique_id}")
    assert p["state"] == "created" and [(e["vehicle_id"], e["reason"]) for e in p["exclusions"]] == [(v.vid, "no_ack")]
