"""The console's server side: the one live feed per process reads the database and pushes only
what changed; alerts are derived once however many replicas derive them, and an acknowledgement
(who, when) persists."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

from ground_control.auth.bootstrap import bearer, ensure_api_key_async
from ground_control.console.alerts import AlertKind, VehicleView, from_event, from_mission_end, from_vehicle
from ground_control.console.feed import diff
from ground_control.console.live import LiveFeed
from ground_control.db.models import Event, TelemetryLatest, Vehicle
from gc_helpers import HUB, VEHICLE

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def telemetry(vid: str, lat: float, battery: float = 80.0, at: datetime | None = None) -> TelemetryLatest:
    at = at or datetime.now(timezone.utc)
    return TelemetryLatest(vehicle_id=vid, lat=lat, lon=13.405, alt_m=40.0, heading_deg=90.0, ground_speed_mps=10.0,
                           battery_pct=battery, mode="AUTO", armed=True, gps_fix=3, agent_state="flying",
                           mission_id="m-1", ts=at, received_at=at)


def test_a_changed_record_is_sent_as_its_changed_fields_only() -> None:
    prev = {"a": {"id": "a", "lat": 1.0, "lon": 2.0, "bat": 90}, "gone": {"id": "gone"}}
    cur = {"a": {"id": "a", "lat": 1.5, "lon": 2.0, "bat": 90}, "new": {"id": "new", "lat": 0.0}}
    upd, removed = diff(prev, cur)
    assert {"id": "a", "lat": 1.5} in upd and {"id": "new", "lat": 0.0} in upd
    assert removed == ["gone"]


def test_alert_rules() -> None:
    fence = from_event("d1", "e1", "failsafe", NOW, {"reason": "fence", "action": "rtl", "mission_id": "m"})
    assert fence is not None and fence.kind is AlertKind.geofence_breach and fence.key == "event:e1"
    assert from_event("d1", "e2", "failsafe", NOW, {"reason": "battery", "action": "rtl"}).kind is AlertKind.failsafe
    assert from_event("d1", "e3", "rejected", NOW, {"reason": "energy"}).kind is AlertKind.mission_not_accepted
    assert from_event("d1", "e4", "delivery_failed", NOW, {"reason": "x", "parcel_id": "p"}).parcel_id == "p"
    assert from_event("d1", "e5", "delivered", NOW, {}) is None
    silent = from_mission_end("m1", "d1", "failed", "not accepted after 4 sends", NOW)
    assert silent is not None and silent.kind is AlertKind.mission_not_accepted
    assert from_mission_end("m2", "d1", "completed", None, NOW) is None
    on = VehicleView("d1", True, NOW, 50.0, "m")
    off = VehicleView("d1", False, NOW + timedelta(seconds=30), 50.0, "m")
    [alert] = from_vehicle(on, off, 20.0, NOW)
    assert alert.kind is AlertKind.vehicle_offline
    assert from_vehicle(None, off, 20.0, NOW) == []          # already off when first seen: not news
    low = VehicleView("d1", True, NOW, 15.0, "m")
    assert [a.kind for a in from_vehicle(on, low, 20.0, NOW)] == [AlertKind.low_battery]
    assert from_vehicle(low, low, 20.0, NOW) == []            # once per mission, not every sample


async def _frames(stream, want: int) -> list[tuple[str, dict]]:
    return await asyncio.wait_for(_read_frames(stream, want), 30)


async def _until(stream, names: set[str]) -> dict[str, dict]:
    """Frames by name (the first of each) until every name in ``names`` arrived."""
    got: dict[str, dict] = {}
    while not names <= got.keys():
        for name, data in await _frames(stream, 1):
            got.setdefault(name, data)
    return got


async def _read_frames(stream, want: int) -> list[tuple[str, dict]]:
    out = []
    async for chunk in stream:
        text = chunk.decode()
        for block in text.split("\n\n"):
            lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
            if "event" in lines:
                out.append((lines["event"], json.loads(lines["data"])))
        if len(out) >= want:
            return out
    return out


async def test_feed_pushes_moves_and_alerts_once_across_two_replicas(client) -> None:
    app = client.app
    assert (await client.post("/hubs", json=HUB)).status_code == 201
    assert (await client.post("/vehicles", json=VEHICLE)).status_code == 201
    sm = app.state.sessionmaker
    async with sm() as s:
        s.add(telemetry("drone-1", 52.52))
        v = await s.get(Vehicle, "drone-1")
        v.online = True
        await s.commit()
    feed: LiveFeed = app.state.console_feed
    other_replica = LiveFeed(sm, app.state.settings)
    await feed.tick()
    await other_replica.tick()
    stream = feed.stream()
    [(kind, snap)] = await _frames(stream, 1)
    assert kind == "snapshot" and snap["vehicles"][0]["lat"] == 52.52 and snap["vehicles"][0]["online"] is True

    eid = str(uuid.uuid4())
    async with sm() as s:
        tel = await s.get(TelemetryLatest, "drone-1")
        tel.lat, tel.received_at = 52.53, datetime.now(timezone.utc)
        s.add(Event(id=eid, vehicle_id="drone-1", kind="failsafe", mission_id="m-1", seq=1, ts=datetime.now(timezone.utc),
                    received_at=datetime.now(timezone.utc), body={"kind": "failsafe", "reason": "fence", "action": "rtl"}))
        await s.commit()
    await other_replica.tick()
    await feed.tick()   # (the feed's own loop, started by the stream, may have read it already)
    frames = await _until(stream, {"vehicles", "events", "alerts"})
    moved = frames["vehicles"]["upd"][0]
    assert moved["id"] == "drone-1" and moved["lat"] == 52.53 and "type" not in moved   # only what changed
    assert [e["id"] for e in frames["events"]] == [eid]
    [alert] = frames["alerts"]["upd"]
    assert alert["kind"] == "geofence_breach"
    await stream.aclose()

    listed = (await client.get("/alerts", params={"state": "open"})).json()
    assert listed["total"] == 1   # two replicas derived it, one stored
    # who acknowledged is the caller's credential, never what the body claims
    api_sm = client.app.state.sessionmaker
    dana = bearer(await ensure_api_key_async(api_sm, f"dana-{uuid.uuid4().hex[:6]}", "dispatcher"))
    eve = bearer(await ensure_api_key_async(api_sm, f"eve-{uuid.uuid4().hex[:6]}", "dispatcher"))
    r = await client.post(f"/alerts/{alert['id']}/acknowledge", json={"by": "mallory"}, headers=dana)
    assert r.status_code == 200 and r.json()["acknowledged_by"].startswith("dana-")
    again = await client.post(f"/alerts/{alert['id']}/acknowledge", json={"by": "eve"}, headers=eve)
    assert again.json()["acknowledged_by"].startswith("dana-")      # the first acknowledgement stays
    assert (await client.get("/alerts", params={"state": "open"})).json()["total"] == 0
    assert (await client.post("/alerts/999999/acknowledge")).status_code == 404
    assert (await client.post("/alerts/0/acknowledge")).status_code == 422
    assert (await client.post(f"/alerts/{alert['id']}/acknowledge", json={"by": ""})).status_code == 422


async def test_console_config_and_page(client) -> None:
    cfg = (await client.get("/console/config")).json()
    assert cfg["tile_url"] == "" and cfg["feed_interval_s"] > 0
    page = await client.get("/")
    assert page.status_code == 200 and "/console/static/js/main.js" in page.text
    assert (await client.get("/console/static/js/main.js")).status_code == 200


def test_the_event_cursor_never_stalls_on_a_burst_larger_than_one_read() -> None:
    from types import SimpleNamespace

    from ground_control.console import live

    cursor = live._Cursor(NOW)
    burst = [SimpleNamespace(id=i, at=NOW + timedelta(milliseconds=i)) for i in range(live.MAX_ROWS)]
    assert len(cursor.fresh(burst, "at")) == live.MAX_ROWS
    assert cursor.floor == burst[-1].at                   # the next read starts after the burst
    late = [burst[-1], SimpleNamespace(id="late", at=burst[-1].at)]
    assert [r.id for r in cursor.fresh(late, "at")] == ["late"]   # sent once, nothing twice
    assert cursor.floor == burst[-1].at - live.LOOKBACK


async def test_a_failed_read_sends_its_events_with_the_next_one(client, monkeypatch) -> None:
    app = client.app
    feed: LiveFeed = app.state.console_feed
    await feed.tick()
    eid = str(uuid.uuid4())
    async with app.state.sessionmaker() as s:
        s.add(Event(id=eid, vehicle_id="drone-9", kind="delivery_failed", mission_id="m-9", parcel_id="p-9", seq=1,
                    ts=datetime.now(timezone.utc), received_at=datetime.now(timezone.utc),
                    body={"kind": "delivery_failed", "reason": "wind", "parcel_id": "p-9"}))
        await s.commit()
    from ground_control.console import live

    async def refused(*_a, **_k):
        raise RuntimeError("database went away")
    monkeypatch.setattr(live.alert_store, "store", refused)
    try:
        await feed.tick()
    except RuntimeError:
        pass
    assert eid not in [e["id"] for e in feed.recent_events]
    monkeypatch.undo()
    await feed.tick()
    assert [e["id"] for e in feed.recent_events] == [eid]
    assert [a["kind"] for a in feed.alerts.values()] == ["delivery_failed"]
