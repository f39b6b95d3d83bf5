"""Telemetry history with retention: every flushed sample is kept; on PostgreSQL in daily
partitions that the retention job creates ahead and drops whole once past retention; on SQLite
old rows are deleted."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select, text

from fleet_protocol import LatLon, Telemetry
from ground_control.db.migrate import upgrade
from ground_control.db.models import TelemetryLatest, telemetry_history
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.history.partitions import Partition, cutoff, parse, plan
from ground_control.history.store import maintain
from ground_control.ingest.telemetry import TelemetryBuffer, telemetry_row

TODAY = date(2026, 12, 4)
NOW = datetime(2026, 12, 4, 15, 30, tzinfo=timezone.utc)


def test_partition_names_round_trip_and_cover_one_utc_day():
    p = Partition(TODAY)
    assert p.name == "telemetry_history_p20261204" and parse(p.name) == p
    assert p.end - p.start == timedelta(days=1) and p.start.tzinfo is timezone.utc
    assert parse("telemetry_history_default") is None and parse("telemetry_history_p20261399") is None


def test_plan_creates_today_and_ahead_and_drops_days_past_retention():
    existing = [Partition(TODAY - timedelta(days=d)).name for d in range(0, 10)] + ["telemetry_history_default"]
    create, drop = plan(existing, TODAY, keep_days=7, ahead_days=2)
    assert [p.day for p in create] == [TODAY + timedelta(days=1), TODAY + timedelta(days=2)]
    assert [p.day for p in drop] == [TODAY - timedelta(days=d) for d in (9, 8, 7)]
    assert cutoff(NOW, 7) == datetime(2026, 11, 28, tzinfo=timezone.utc)


def sample(vehicle: str, pct: float, received_at: datetime) -> dict:
    body = Telemetry(position=LatLon(lat=52.5, lon=13.4), heading_deg=90, ground_speed_mps=10, battery_pct=pct,
                     mode="AUTO", armed=True, gps_fix=3, agent_state="flying")
    return telemetry_row(vehicle, body, received_at, received_at)


async def test_every_flush_appends_history_and_retention_removes_old_days(db_url):
    await asyncio.to_thread(upgrade, db_url)
    engine = make_engine(db_url)
    sm = make_sessionmaker(engine)
    try:
        now = datetime.now(timezone.utc)
        async with sm() as s:
            first = await maintain(s, now, keep_days=2)
        if engine.dialect.name == "postgresql":
            assert Partition(now.date()).name in first["created"]
        buf = TelemetryBuffer(sm, history=True)
        old = now - timedelta(days=3)
        for i, at in enumerate([old, now - timedelta(seconds=2), now - timedelta(seconds=1)]):
            buf.add(sample("hist-1", 90 - i, at))
            assert await buf.flush() == 1
        async with sm() as s:
            assert await s.scalar(select(func.count()).select_from(telemetry_history)) == 3
            assert (await s.get(TelemetryLatest, "hist-1")).battery_pct == 88
        async with sm() as s:
            out = await maintain(s, now, keep_days=2)
        async with sm() as s:
            kept = (await s.execute(select(telemetry_history.c.battery_pct).order_by(telemetry_history.c.received_at))).scalars().all()
            assert kept == [89, 88], out
            if engine.dialect.name == "postgresql":
                # the samples sit in today's partition, not the default one
                n = await s.scalar(text(f"SELECT count(*) FROM {Partition(now.date()).name}"))
                assert n == 2
        if engine.dialect.name == "postgresql":
            # a partition past retention is dropped whole
            async with sm() as s:
                await maintain(s, now + timedelta(days=3), keep_days=2)
            async with sm() as s:
                names = set((await s.scalars(text(
                    "SELECT tablename FROM pg_tables WHERE tablename LIKE 'telemetry_history_p%'"))).all())
            assert Partition(now.date()).name not in names
            assert Partition((now + timedelta(days=3)).date()).name in names
    finally:
        await engine.dispose()


async def test_the_api_reads_a_window_back_in_cursor_pages_and_as_a_geojson_track(client):
    """An operator replays a flight: the samples of one window, oldest first, every one exactly
    once across pages; the same page as a GeoJSON LineString; bad windows are refused."""
    from gc_helpers import HUB, VEHICLE, headers_for

    c = client
    assert (await c.post("/hubs", json=HUB)).status_code == 201
    assert (await c.post("/vehicles", json=VEHICLE)).status_code == 201
    assert (await c.post("/vehicles", json={**VEHICLE, "id": "drone-2"})).status_code == 201
    buf = TelemetryBuffer(c.app.state.sessionmaker, history=True)
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=30)
    for i in range(25):
        at = t0 + timedelta(seconds=i)
        row = sample("drone-1", 90 - i * 0.5, at)
        row.update(lat=52.5 + i * 1e-4, mission_id="m-a" if i < 10 else "m-b")
        buf.add(row)
        buf.add(sample("drone-2", 50, at))        # another vehicle's samples stay out
        await buf.flush()
    url = "/vehicles/drone-1/telemetry/history"
    window = {"since": (t0 + timedelta(seconds=5)).isoformat(), "until": (t0 + timedelta(seconds=20)).isoformat()}

    seen, after = [], None
    while True:
        r = await c.get(url, params={**window, "limit": 4, **({"after": after} if after else {})})
        assert r.status_code == 200, r.text
        seen += r.json()["items"]
        after = r.json()["next_after"]
        if after is None:
            break
    assert [s["battery_pct"] for s in seen] == [90 - i * 0.5 for i in range(5, 20)]   # [since, until), in order

    only_a = (await c.get(url, params={**window, "mission_id": "m-a"})).json()["items"]
    assert [s["mission_id"] for s in only_a] == ["m-a"] * 5

    geo = (await c.get(url, params={**window, "format": "geojson"})).json()["track"]
    assert geo["geometry"]["type"] == "LineString" and len(geo["geometry"]["coordinates"]) == 15
    lon, lat = geo["geometry"]["coordinates"][0]
    assert (round(lat, 6), round(lon, 6)) == (round(52.5 + 5e-4, 6), 13.4)      # GeoJSON order: lon, lat
    assert geo["properties"]["battery_pct"][0] == 87.5

    viewer = await headers_for(c, "viewer")
    assert (await c.get(url, params=window, headers=viewer)).status_code == 200
    assert (await c.get("/vehicles/nope/telemetry/history")).status_code == 404
    inverted = {"since": window["until"], "until": window["since"]}
    assert (await c.get(url, params=inverted)).status_code == 422
    naive = (await c.get(url, params={"since": "2026-12-04T10:00:00"}))
    assert naive.status_code == 422 and "time zone" in naive.text
    too_long = {"since": "2026-01-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}
    assert (await c.get(url, params=too_long)).status_code == 422
