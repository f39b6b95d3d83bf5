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


async def test_offline_vehicle_keeps_its_parcels_until_declared_lost(gc_factory, unique_id):
    """Offline means "we cannot hear it": the vehicle's mission stays active (marked
    unreachable) and its parcels stay aboard while a spare stands idle; back online it delivers
    them on the same mission. Only an operator's declare-lost frees parcels, and then only those
    never aboard (its parcels aboard become ``lost``)."""
    make_gc, make_vehicle = gc_factory
    gc = await make_gc()
    c = gc.client
    away = await make_vehicle("away", behaviour="away", step_s=0.3)
    await setup_fleet(c, [away.vid], 2, unique_id)
    await wait_for(lambda: all_in("in_transit")(c), 40, "parcels aboard")
    await wait_for(lambda: _online(c, away.vid, False), 40, "the vehicle offline mid-mission")
    spare = await make_vehicle("spare")     # idle, online, same hub: the old rule gave it the parcels
    await _add_drone(c, spare.vid)
    await wait_for(lambda: _online(c, spare.vid, True), 40, "the spare online")
    ticks = gc.app.state.runtime.dispatcher.ticks
    await wait_for(lambda: _ticked(gc, ticks + 5), 30, "five dispatch rounds")
    [m1] = await _missions(c, away.vid)
    assert m1["state"] == "started" and m1["unreachable_since"] is not None
    assert set((await states(c)).values()) == {"in_transit"}
    assert await _missions(c, spare.vid) == [] and spare.missions == []

    away.come_back.set()
    await wait_for(lambda: all_in("delivered")(c), 30, "delivered by the vehicle once back")
    away.may_return.set()
    await wait_for(lambda: _mission_state(c, "completed"), 20, "its mission completed")
    [m1] = await _missions(c, away.vid)
    assert m1["unreachable_since"] is None
    assert await _missions(c, spare.vid) == []
    for i in range(2):
        p = await _parcel(c, f"p{i}-{unique_id}")
        assert p["proof"]["vehicle_id"] == away.vid and p["mission_id"] == m1["id"]
    await _assert_no_parcel_on_two_missions(c)


async def test_declare_lost_frees_only_parcels_never_aboard(gc_factory, unique_id):
    make_gc, make_vehicle = gc_factory
    gc = await make_gc(mission_ack_timeout_s=60.0)   # the mute vehicle's mission stays `sent`
    c = gc.client
    assert (await c.post("/hubs", json={"id": "hub", "lat": 52.52, "lon": 13.405})).status_code == 201
    away = await make_vehicle("away", behaviour="away", step_s=0.3)
    await _add_drone(c, away.vid)
    aboard, promised = f"aboard-{unique_id}", f"promised-{unique_id}"
    await _import(c, [(aboard, 52.523, 13.405, 0.5)])
    await wait_for(lambda: _state_is(c, aboard, "in_transit"), 40, "parcel aboard")
    await wait_for(lambda: _online(c, away.vid, False), 40, "the carrying vehicle offline mid-mission")
    assert (await _parcel(c, aboard))["state"] == "in_transit"
    mute = await make_vehicle("mute", behaviour="mute")
    await _add_drone(c, mute.vid)
    await _import(c, [(promised, 52.524, 13.407, 0.5)])
    await wait_for(lambda: _state_is(c, promised, "planned"), 20, "a parcel planned on the mute vehicle")
    [m_mute] = await _missions(c, mute.vid)

    assert (await c.post(f"/vehicles/{away.vid}/declare-lost", json={})).status_code == 422   # a reason is required
    r = await c.post(f"/vehicles/{away.vid}/declare-lost", json={"reason": "crashed into the river"})
    assert r.status_code == 200, r.text
    assert r.json()["parcels_lost"] == [aboard] and r.json()["parcels_replanned"] == []
    r = await c.post(f"/vehicles/{mute.vid}/declare-lost", json={"reason": "stolen"})
    assert r.json()["parcels_replanned"] == [promised] and r.json()["missions_failed"] == [m_mute["id"]]
    v = (await c.get(f"/vehicles/{away.vid}")).json()
    assert v["enabled"] is False and v["lost_reason"] == "crashed into the river" and v["lost_at"]
    cmds = (await c.get(f"/vehicles/{mute.vid}/commands")).json()["items"]
    assert [(x["action"], x["mission_id"]) for x in cmds] == [("abort", m_mute["id"])]   # a copy must not be flown
    hist = (await c.get(f"/parcels/{aboard}/history", params={"limit": 500})).json()["items"]
    assert hist[-1]["to_state"] == "lost" and "crashed into the river" in hist[-1]["reason"]

    spare = await make_vehicle("spare")
    await _add_drone(c, spare.vid)
    await wait_for(lambda: _state_is(c, promised, "delivered"), 30, "the never-aboard parcel delivered by a spare")
    assert (await _parcel(c, promised))["proof"]["vehicle_id"] == spare.vid
    assert (await _parcel(c, aboard))["state"] == "lost"
    assert all(aboard not in m["parcel_ids"] for m in await _missions(c, spare.vid))

    # the lost vehicle turns up and delivers what it carried: its proof counts
    away.come_back.set()
    await wait_for(lambda: _state_is(c, aboard, "delivered"), 30, "the lost parcel delivered on a late proof")
    p = await _parcel(c, aboard)
    assert p["proof"]["vehicle_id"] == away.vid
    away.may_return.set()
    await _assert_no_parcel_on_two_missions(c)


async def _ticked(gc, n):
    return gc.app.state.runtime.dispatcher.ticks >= n


async def _assert_no_parcel_on_two_missions(c):
    """No parcel was ever on two missions that a vehicle took (accepted)."""
    accepted = {e["mission_id"] for e in (await c.get("/events", params={"kind": "accepted", "limit": 500})).json()["items"]}
    missions = (await c.get("/missions", params={"limit": 500})).json()["items"]
    seen: dict[str, str] = {}
    for m in (m for m in missions if m["id"] in accepted):
        for pid in m["parcel_ids"]:
            assert pid not in seen, f"parcel {pid} on missions {seen[pid]} and {m['id']}"
            seen[pid] = m["id"]


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


async def test_late_proof_of_a_mission_given_up_for_no_ack_wins(gc_factory, unique_id):
    """A mission never acknowledged is failed after its resends (abort queued, parcels
    re-planned without that vehicle). If the vehicle flew a copy anyway, its proof wins over
    ``created`` and over ``planned`` on another vehicle's mission (cancelled, abort queued)."""
    make_gc, make_vehicle = gc_factory
    gc = await make_gc(mission_ack_timeout_s=0.5, mission_resend_count=1)
    c = gc.client
    assert (await c.post("/hubs", json={"id": "hub", "lat": 52.52, "lon": 13.405})).status_code == 201
    deaf = await make_vehicle("deaf", behaviour="mute")
    await _add_drone(c, deaf.vid)
    light, heavy = f"light-{unique_id}", f"heavy-{unique_id}"
    await _import(c, [(light, 52.523, 13.405, 0.5), (heavy, 52.524, 13.407, 2.0)])
    await wait_for(lambda: _mission_state(c, "failed"), 20, "the unacknowledged mission failed")
    [m1] = await _missions(c, deaf.vid)
    cmds = (await c.get(f"/vehicles/{deaf.vid}/commands")).json()["items"]
    assert [(x["action"], x["mission_id"]) for x in cmds] == [("abort", m1["id"])]

    gc.app.state.settings.mission_ack_timeout_s = 60.0      # the next mute vehicle's mission stays `sent`
    mute = await make_vehicle("mute", behaviour="mute")
    await _add_drone(c, mute.vid, payload_kg=1.0)           # can take the light parcel only
    await wait_for(lambda: _state_is(c, light, "planned"), 20, "light parcel planned on the mute vehicle")
    [m2] = await _missions(c, mute.vid)

    deaf.behaviour = "deliver"
    deaf._flown.clear()
    from fleet_protocol import Mission as ProtoMission
    await deaf._fly(ProtoMission.model_validate((await c.get(f"/missions/{m1['id']}")).json()["payload"]), resumed=True)
    await wait_for(lambda: all_in("delivered")(c), 20, "both parcels delivered on the late proofs")
    for pid in (light, heavy):
        p = await _parcel(c, pid)
        assert p["proof"]["vehicle_id"] == deaf.vid and p["mission_id"] == m1["id"]
        assert (await c.get(f"/parcels/{pid}/history", params={"limit": 500})).json()["items"][-1]["reason"] == f"late proof of delivery from {deaf.vid}"
    m2 = (await c.get(f"/missions/{m2['id']}")).json()
    assert m2["state"] == "failed" and light in m2["fail_reason"]
    cmds = (await c.get(f"/vehicles/{mute.vid}/commands")).json()["items"]
    assert [(x["action"], x["mission_id"]) for x in cmds] == [("abort", m2["id"])]


async def _state_is(c, pid, state):
    return (await _parcel(c, pid))["state"] == state


async def _delivered_noted(c, vid):
    return (await c.get("/events", params={"vehicle_id": vid, "kind": "delivered"})).json()["total"] >= 1
