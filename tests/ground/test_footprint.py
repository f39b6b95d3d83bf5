"""Energy and carbon per delivery: the pure arithmetic, the sampler and finaliser over a real
database, and the daily report as JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from gc_helpers import HUB, VEHICLE, parcel
from ground_control.db.models import Mission, MissionEnergy, Parcel, TelemetryLatest, utcnow
from ground_control.db.repositories import apply_transitions
from ground_control.domain.parcel_lifecycle import ParcelState as S
from ground_control.footprint.calc import (
    Factors, haversine_m, mission_energy, model_energy_wh, parcel_footprint, shares, telemetry_energy_wh,
)
from ground_control.footprint.sampler import FootprintSampler

F = Factors(grid_gco2_per_kwh=200.0, van_gco2_per_km=250.0, charge_efficiency=0.8)


def test_energy_from_telemetry_or_the_model():
    assert telemetry_energy_wh(90, 80, 500) == pytest.approx(50.0)
    assert telemetry_energy_wh(80, 80, 500) is None          # no drop: nothing measured
    assert telemetry_energy_wh(50, 95, 500) is None          # charged or swapped mid-way
    assert telemetry_energy_wh(0, 0, 500) is None             # no battery reading yet (0 %)


def test_the_start_reading_is_the_one_at_take_off():
    from ground_control.footprint.sampler import start_may_move

    assert start_may_move("sent", 95.0, 96.0) and start_may_move("accepted", 95.0, 94.0)
    assert not start_may_move("started", 95.0, 90.0)           # flying: the start is fixed
    assert start_may_move("started", 0.0, 88.0)                # the first reading was "unknown"
    assert model_energy_wh(3000, 12) == pytest.approx(36.0)
    assert mission_energy(90, 80, 500, 3000, 12) == (pytest.approx(50.0), "telemetry")
    assert mission_energy(None, 80, 500, 3000, 12) == (pytest.approx(36.0), "model")
    assert mission_energy(80, 80, 500, 3000, 12) == (pytest.approx(36.0), "model")


def test_shares_by_distance_or_equal():
    assert shares({"a": 1000, "b": 3000}) == {"a": 0.25, "b": 0.75}
    assert shares({"a": 0, "b": 0}) == {"a": 0.5, "b": 0.5}
    assert shares({}) == {}


def test_co2_and_van_baseline_for_a_parcel():
    fp = parcel_footprint(mission_wh=40.0, source="telemetry", share=0.25, mission_distance_m=8000, f=F)
    assert fp["energy_wh"] == pytest.approx(10.0)
    assert fp["grid_kwh"] == pytest.approx(10.0 / 0.8 / 1000)               # charging losses
    assert fp["co2e_g"] == pytest.approx(0.0125 * 200.0)                    # 2.5 g
    assert fp["distance_km"] == pytest.approx(2.0)
    assert fp["van_co2e_g"] == pytest.approx(500.0)
    assert fp["saved_co2e_g"] == pytest.approx(497.5)
    assert fp["energy_source"] == "telemetry"
    assert haversine_m(52.52, 13.405, 52.529, 13.405) == pytest.approx(1000.8, abs=2)


async def _delivered_mission(client, n: int = 2) -> None:
    assert (await client.post("/hubs", json=HUB)).status_code == 201
    assert (await client.post("/vehicles", json=VEHICLE)).status_code == 201
    ids = [f"f{i}" for i in range(n)]
    for i, pid in enumerate(ids):   # the second parcel is three times as far as the first
        r = await client.post("/parcels", json=parcel(pid, lat=HUB["lat"] + 0.009 * (1 + 2 * i), lon=HUB["lon"]))
        assert r.status_code == 201
    async with client.app.state.sessionmaker() as s:
        s.add(Mission(id="mf", vehicle_id=VEHICLE["id"], hub_id=HUB["id"], state="started", payload={},
                      parcel_ids=ids, distance_m=8000.0))
        await s.flush()
        for pid in ids:
            p = await s.get(Parcel, pid)
            p.mission_id, p.vehicle_id = "mf", VEHICLE["id"]
            for target in (S.planned, S.dispatched, S.in_transit, S.delivered):
                apply_transitions(s, p, target, "test")
        await s.commit()


async def _telemetry(client, pct: float) -> None:
    async with client.app.state.sessionmaker() as s:
        now = utcnow()
        row = await s.get(TelemetryLatest, VEHICLE["id"])
        if row is None:
            s.add(TelemetryLatest(vehicle_id=VEHICLE["id"], lat=HUB["lat"], lon=HUB["lon"], alt_m=0, heading_deg=0,
                                  ground_speed_mps=0, battery_pct=pct, mode="AUTO", armed=True, gps_fix=3,
                                  agent_state="flying", mission_id="mf", ts=now, received_at=now))
        else:
            row.battery_pct, row.ts, row.received_at = pct, now + timedelta(milliseconds=10), now
        await s.commit()


async def test_sampler_measures_the_mission_and_splits_it_by_distance(client):
    await _delivered_mission(client)
    sampler = FootprintSampler(client.app.state.settings, client.app.state.sessionmaker)
    await _telemetry(client, 95.0)
    await sampler.sample()
    await _telemetry(client, 87.0)
    await sampler.sample()
    assert await sampler.finalize() == 0          # mission still active: no footprint yet
    async with client.app.state.sessionmaker() as s:
        (await s.get(Mission, "mf")).state = "completed"
        await s.commit()
    await _telemetry(client, 85.0)                # the landing reading
    assert await sampler.finalize() == 2
    a = (await client.get("/parcels/f0")).json()["footprint"]
    b = (await client.get("/parcels/f1")).json()["footprint"]
    assert a["energy_source"] == b["energy_source"] == "telemetry"
    total = 10.0 / 100 * VEHICLE["battery_wh"]   # 95 % -> 85 % of the pack
    assert a["energy_wh"] + b["energy_wh"] == pytest.approx(total, rel=1e-3)
    assert b["energy_wh"] == pytest.approx(3 * a["energy_wh"], rel=0.01)
    assert a["distance_km"] + b["distance_km"] == pytest.approx(8.0, rel=1e-3)
    assert a["co2e_g"] > 0 and a["van_co2e_g"] > a["co2e_g"] and a["mission_id"] == "mf"
    async with client.app.state.sessionmaker() as s:
        assert (await s.get(MissionEnergy, "mf")).start_pct == 95.0


async def test_without_telemetry_the_model_is_used_and_said(client):
    await _delivered_mission(client, n=1)
    async with client.app.state.sessionmaker() as s:
        (await s.get(Mission, "mf")).state = "completed"
        await s.commit()
    sampler = FootprintSampler(client.app.state.settings, client.app.state.sessionmaker)
    assert await sampler.finalize() == 1
    fp = (await client.get("/parcels/f0")).json()["footprint"]
    assert fp["energy_source"] == "model"
    assert fp["energy_wh"] == pytest.approx(8.0 * VEHICLE["wh_per_km"])


async def test_daily_report_json_and_csv(client):
    await _delivered_mission(client)
    async with client.app.state.sessionmaker() as s:
        (await s.get(Mission, "mf")).state = "completed"
        await s.commit()
    await FootprintSampler(client.app.state.settings, client.app.state.sessionmaker).finalize()
    today = utcnow().date().isoformat()
    r = await client.get("/reports/footprint", params={"date": today})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["parcel_id"] for p in body["parcels"]] == ["f0", "f1"]
    t = body["totals"]
    assert t["parcels"] == 2 and t["with_footprint"] == 2 and t["pending"] == 0
    assert t["energy_wh"] == pytest.approx(8.0 * VEHICLE["wh_per_km"], rel=1e-3)
    assert t["van_co2e_g"] == pytest.approx(8.0 * body["factors"]["van_gco2_per_km"], rel=1e-3)
    assert body["factors"]["grid_gco2_per_kwh"] == 207.05
    r = await client.get("/reports/footprint", params={"date": today, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["parcel_id"] for x in rows] == ["f0", "f1"] and rows[0]["energy_source"] == "model"
    assert float(rows[0]["co2e_g"]) == pytest.approx(body["parcels"][0]["co2e_g"])
    other = await client.get("/reports/footprint", params={"date": "2020-01-01"})
    assert other.json()["parcels"] == [] and other.json()["totals"]["parcels"] == 0
    for bad in ({"date": "yesterday"}, {"date": today, "format": "xml"}, {}):
        assert (await client.get("/reports/footprint", params=bad)).status_code == 422
