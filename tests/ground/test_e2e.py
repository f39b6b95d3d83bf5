"""End to end over the real broker: the API, ingest and dispatch of a running ground control
with FAKE vehicles (tests/ground/fake_vehicle.py) answering missions. The real simulator+agent
scenario lives elsewhere."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from fake_vehicle import FakeVehicle
from gc_runner import GroundControl, e2e_settings, wait_for
from ground_control.db.models import Event

pytestmark = pytest.mark.timeout(90)


@pytest.fixture()
async def gc_factory(db_url, mqtt_broker, unique_id):
    started: list[GroundControl] = []
    vehicles: list[FakeVehicle] = []

    async def make_gc(**kw) -> GroundControl:
        gc = await GroundControl(e2e_settings(db_url, mqtt_broker.url, unique_id, **kw)).start()
        started.append(gc)
        return gc

    async def make_vehicle(name: str, **kw) -> FakeVehicle:
        v = FakeVehicle(mqtt_broker.host, mqtt_broker.port, f"{name}-{unique_id}", **kw)
        await v.start()
        vehicles.append(v)
        return v

    yield make_gc, make_vehicle
    for v in vehicles:
        await v.stop()
    for gc in started:
        await gc.stop()
    if started:
        await started[-1].forget_session()


async def setup_fleet(c, vehicle_ids, n_parcels, uid, weight=0.5):
    assert (await c.post("/hubs", json={"id": "hub", "lat": 52.52, "lon": 13.405})).status_code == 201
    for vid in vehicle_ids:
        # several release bays: these scenarios are about ground control, not grippers
        r = await c.post("/vehicles", json={"id": vid, "type": "drone", "hub_id": "hub", "payload_kg": 5,
                                            "battery_wh": 800, "wh_per_km": 15, "cruise_speed_mps": 12,
                                            "release_bays": 8})
        assert r.status_code == 201, r.text
    if n_parcels:   # one bulk import, so the first plan sees all of them
        fc = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [13.405 + 0.002 * i, 52.52 + 0.003 * (i + 1)]},
             "properties": {"id": f"p{i}-{uid}", "weight_kg": weight, "size": "small", "hub_id": "hub",
                            "recipient_name": "R", "recipient_email": "r@example.org"}} for i in range(n_parcels)]}
        r = await c.post("/parcels/import", json=fc)
        assert r.status_code == 201, r.text


async def states(c) -> dict[str, str]:
    items = (await c.get("/parcels", params={"limit": 500})).json()["items"]
    return {p["id"]: p["state"] for p in items}


def all_in(state):
    async def check(c):
        s = await states(c)
        return bool(s) and all(v == state for v in s.values())
    return check


async def event_count(gc) -> int:
    async with gc.app.state.sessionmaker() as s:
        return await s.scalar(select(func.count()).select_from(Event))


async def test_parcels_reach_delivered_with_proof(gc_factory, unique_id):
    make_gc, make_vehicle = gc_factory
    gc = await make_gc()
    c = gc.client
    v = await make_vehicle("d1")
    await setup_fleet(c, [v.vid], 3, unique_id)
    await wait_for(lambda: all_in("delivered")(c), 30, "all parcels delivered")
    p = (await c.get(f"/parcels/p0-{unique_id}")).json()
    assert p["vehicle_id"] == v.vid
    proof = (await c.get(f"/parcels/p0-{unique_id}/proof")).json()
    assert proof["confirmed"] is True and proof["method"] == "release" and proof["vehicle_id"] == v.vid
    hist = [h["to_state"] for h in (await c.get(f"/parcels/p0-{unique_id}/history", params={"limit": 500})).json()["items"]]
    assert hist == ["created", "planned", "dispatched", "in_transit", "delivered"]
    await wait_for(lambda: _mission_state(c, "completed"), 10, "mission completed")
    # every event was sent twice; each is stored once
    await asyncio.sleep(0.3)
    mine = (await c.get("/events", params={"vehicle_id": v.vid, "limit": 500})).json()
    assert mine["total"] == len(v.sent_event_ids)
    assert {e["id"] for e in mine["items"]} == v.sent_event_ids
    tel = (await c.get(f"/vehicles/{v.vid}")).json()
    assert tel["online"] is True and tel["telemetry"]["battery_pct"] == 90


async def _mission_state(c, state):
    items = (await c.get("/missions")).json()["items"]
    return items and all(m["state"] == state for m in items)


async def test_restart_mid_scenario_loses_nothing(gc_factory, unique_id):
    make_gc, make_vehicle = gc_factory
    gc = await make_gc()
    c = gc.client
    v = await make_vehicle("d1", step_s=0.6)
    await setup_fleet(c, [v.vid], 4, unique_id)
    await wait_for(lambda: _any_state(c, "in_transit"), 20, "a parcel in transit")
    await gc.stop()                     # ground control dies; the vehicle keeps flying and reporting
    await asyncio.sleep(2.0)
    gc2 = await make_gc()
    c2 = gc2.client
    await wait_for(lambda: all_in("delivered")(c2), 40, "all parcels delivered after restart")
    await wait_for(lambda: _mission_state(c2, "completed"), 10, "mission completed")
    await asyncio.sleep(0.3)
    mine = (await c2.get("/events", params={"vehicle_id": v.vid, "limit": 500})).json()
    assert {e["id"] for e in mine["items"]} == v.sent_event_ids   # nothing lost
    assert mine["total"] == len(v.sent_event_ids)                  # nothing duplicated
    assert len(set(v.missions)) == 1


async def _any_state(c, state):
    return state in (await states(c)).values()


async def test_rejected_mission_goes_to_another_vehicle(gc_factory, unique_id):
    make_gc, make_vehicle = gc_factory
    gc = await make_gc()
    c = gc.client
    bad = await make_vehicle("bad", behaviour="reject")
    good_id = f"good-{unique_id}"
    await setup_fleet(c, [bad.vid, good_id], 2, unique_id)
    await wait_for(lambda: _mission_state(c, "failed"), 20, "rejected mission failed")
    p = (await c.get(f"/parcels/p0-{unique_id}")).json()
    assert bad.vid in p["excluded_vehicles"]
    good = await make_vehicle("good")
    await wait_for(lambda: all_in("delivered")(c), 30, "delivered by the other vehicle")
    for i in range(2):
        p = (await c.get(f"/parcels/p{i}-{unique_id}")).json()
        assert p["proof"]["vehicle_id"] == good.vid
    # never offered the same parcel twice to the refusing vehicle
    offered = [pid for m in (await c.get("/missions", params={"vehicle_id": bad.vid})).json()["items"]
               for pid in m["parcel_ids"]]
    assert len(offered) == len(set(offered)) >= 1
    hist = [h["to_state"] for h in (await c.get(f"/parcels/p0-{unique_id}/history", params={"limit": 500})).json()["items"]]
    assert hist[:3] == ["created", "planned", "created"]


async def test_offline_vehicle_returns_parcels_to_planning(gc_factory, unique_id):
    make_gc, make_vehicle = gc_factory
    gc = await make_gc()
    c = gc.client
    lost = await make_vehicle("lost", behaviour="vanish", step_s=0.3)
    await setup_fleet(c, [lost.vid, f"spare-{unique_id}"], 2, unique_id)
    await wait_for(lambda: _mission_state(c, "failed"), 20, "mission of the lost vehicle failed")
    assert (await c.get(f"/vehicles/{lost.vid}")).json()["online"] is False
    assert set((await states(c)).values()) == {"created"}
    await make_vehicle("spare")
    await wait_for(lambda: all_in("delivered")(c), 30, "delivered by the spare")
    hist = [h["to_state"] for h in (await c.get(f"/parcels/p0-{unique_id}/history", params={"limit": 500})).json()["items"]]
    assert hist[:5] == ["created", "planned", "dispatched", "in_transit", "created"]


async def test_unacknowledged_mission_is_resent_then_reassigned(gc_factory, unique_id):
    make_gc, make_vehicle = gc_factory
    gc = await make_gc(mission_ack_timeout_s=0.5, mission_resend_count=2)
    c = gc.client
    mute = await make_vehicle("mute", behaviour="mute")
    await setup_fleet(c, [mute.vid], 1, unique_id)
    await wait_for(lambda: _mission_state(c, "failed"), 20, "mission failed after resends")
    assert len(mute.missions) == 3 and len(set(mute.missions)) == 1   # 1 send + 2 resends, same id
    p = (await c.get(f"/parcels/p0-{unique_id}")).json()
    assert p["state"] == "created" and mute.vid in p["excluded_vehicles"]


async def test_silent_telemetry_marks_vehicle_offline(gc_factory, unique_id):
    make_gc, make_vehicle = gc_factory
    gc = await make_gc(telemetry_silence_timeout_s=1.0)
    c = gc.client
    v = await make_vehicle("quiet")
    await setup_fleet(c, [v.vid], 0, unique_id)
    await wait_for(lambda: _online(c, v.vid, True), 10, "online")
    v.telemetry_on = False
    await wait_for(lambda: _online(c, v.vid, False), 10, "offline after silence")


async def _online(c, vid, want):
    return (await c.get(f"/vehicles/{vid}")).json()["online"] is want


async def _import(c, parcels):
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"id": pid, "weight_kg": w, "size": "small", "hub_id": "hub", "recipient_name": "R",
                        "recipient_email": "r@example.org"}} for pid, lat, lon, w in parcels]}
    r = await c.post("/parcels/import", json=fc)
    assert r.status_code == 201, r.text


async def _add_drone(c, vid, payload_kg=5.0):
    r = await c.post("/vehicles", json={"id": vid, "type": "drone", "hub_id": "hub", "payload_kg": payload_kg,
                                        "battery_wh": 800, "wh_per_km": 15, "cruise_speed_mps": 12,
                                        "release_bays": 8})
    assert r.status_code == 201, r.text


async def _parcel(c, pid):
    return (await c.get(f"/parcels/{pid}")).json()


async def _missions(c, vid):
    return (await c.get("/missions", params={"vehicle_id": vid})).json()["items"]


async def test_late_proof_from_a_vehicle_that_was_offline_wins(gc_factory, unique_id):
    """A vehicle goes offline mid-mission (its parcels go back to planning), comes back and
    reports them delivered: the proof wins over `created` and over `planned` on another
    vehicle's mission (that mission is cancelled, an abort queued). Until it reports
    `returned` it gets no new mission."""
    make_gc, make_vehicle = gc_factory
    gc = await make_gc(mission_ack_timeout_s=60.0)   # the mute vehicle's mission stays `sent`
    c = gc.client
    assert (await c.post("/hubs", json={"id": "hub", "lat": 52.52, "lon": 13.405})).status_code == 201
    away = await make_vehicle("away", behaviour="away", step_s=0.3)
    await _add_drone(c, away.vid)
    mute_id = f"mute-{unique_id}"
    await _add_drone(c, mute_id, payload_kg=1.0)           # can take the light parcel only
    light, heavy = f"light-{unique_id}", f"heavy-{unique_id}"
    await _import(c, [(light, 52.523, 13.405, 0.5), (heavy, 52.524, 13.407, 2.0)])
    await wait_for(lambda: _mission_state(c, "failed"), 20, "mission of the vehicle gone offline failed")
    [m1] = await _missions(c, away.vid)
    assert sorted(m1["parcel_ids"]) == sorted([light, heavy])
    assert set((await states(c)).values()) == {"created"}

    mute = await make_vehicle("mute", behaviour="mute")
    await wait_for(lambda: _state_is(c, light, "planned"), 20, "light parcel planned on the mute vehicle")
    [m2] = await _missions(c, mute.vid)
    assert (await _parcel(c, heavy))["state"] == "created"

    away.come_back.set()
    await wait_for(lambda: all_in("delivered")(c), 20, "both parcels delivered on the late proofs")
    for pid in (light, heavy):
        p = await _parcel(c, pid)
        assert p["proof"]["vehicle_id"] == away.vid and p["proof"]["mission_id"] == m1["id"]
        assert p["vehicle_id"] == away.vid and p["mission_id"] == m1["id"]
        hist = (await c.get(f"/parcels/{pid}/history", params={"limit": 500})).json()["items"]
        assert hist[-1]["to_state"] == "delivered"
        assert hist[-1]["reason"] == f"late proof of delivery from {away.vid}"
    # the mute vehicle's mission lost its only parcel: cancelled, and the vehicle told so
    m2 = (await c.get(f"/missions/{m2['id']}")).json()
    assert m2["state"] == "failed" and light in m2["fail_reason"]
    cmds = (await c.get(f"/vehicles/{mute.vid}/commands")).json()["items"]
    assert [(x["action"], x["mission_id"]) for x in cmds] == [("abort", m2["id"])]

    # back online, still flying its old mission: no new mission until it reports `returned`
    late = f"late-{unique_id}"
    await _import(c, [(late, 52.522, 13.404, 2.0)])   # too heavy for the mute vehicle
    await wait_for(lambda: _online(c, away.vid, True), 10, "online again")
    await asyncio.sleep(1.5)
    assert (await _parcel(c, late))["state"] == "created"
    assert away.missions == [m1["id"]]
    away.may_return.set()
    await wait_for(lambda: _state_is(c, late, "delivered"), 20, "new parcel delivered after the return")
    assert (await _parcel(c, late))["vehicle_id"] == away.vid


async def _state_is(c, pid, state):
    return (await _parcel(c, pid))["state"] == state


async def test_late_proof_for_a_parcel_aboard_another_vehicle_is_only_noted(gc_factory, unique_id):
    make_gc, make_vehicle = gc_factory
    gc = await make_gc()
    c = gc.client
    assert (await c.post("/hubs", json={"id": "hub", "lat": 52.52, "lon": 13.405})).status_code == 201
    away = await make_vehicle("away", behaviour="away", step_s=0.3)
    await _add_drone(c, away.vid)
    holder_id = f"holder-{unique_id}"
    await _add_drone(c, holder_id)
    pid = f"p-{unique_id}"
    await _import(c, [(pid, 52.523, 13.405, 0.5)])
    await wait_for(lambda: _mission_state(c, "failed"), 20, "mission of the vehicle gone offline failed")
    [m1] = await _missions(c, away.vid)
    holder = await make_vehicle("holder", behaviour="hold")
    await wait_for(lambda: _state_is(c, pid, "in_transit"), 20, "parcel aboard the other vehicle")
    [m2] = await _missions(c, holder.vid)

    away.come_back.set()
    await wait_for(lambda: _delivered_noted(c, away.vid), 20, "late delivered event stored")
    p = await _parcel(c, pid)
    assert p["state"] == "in_transit" and p["mission_id"] == m2["id"] and p["proof"] is None
    ev = [e for e in (await c.get("/events", params={"vehicle_id": away.vid, "kind": "delivered"})).json()["items"]]
    assert ev[0]["mission_id"] == m1["id"] and "not applied" in ev[0]["note"] and m2["id"] in ev[0]["note"]
    assert (await c.get(f"/missions/{m2['id']}")).json()["state"] == "started"
    away.may_return.set()


async def _delivered_noted(c, vid):
    return (await c.get("/events", params={"vehicle_id": vid, "kind": "delivered"})).json()["total"] >= 1
