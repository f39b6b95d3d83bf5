"""POST /plans (dry run) and the planner/mission wiring it shares with the dispatcher."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from shapely.geometry import LineString, Polygon
from sqlalchemy import func, select

from edge_agent.geofence_check import estimate_energy_wh
from ground_control.db import models as m
from ground_control.dispatch.mission_builder import (
    build_request, fence_for, flight_profile, make_dispatch_planner, route_to_mission,
)
from ground_control.domain.geofence import parse_geofence
from ground_control.settings import Settings

HUB = {"id": "hub", "lat": 52.52, "lon": 13.405}
AREA = [[13.38, 52.50], [13.44, 52.50], [13.44, 52.56], [13.38, 52.56], [13.38, 52.50]]
# right between the hub and its drop-offs: every straight leg would cross it
NOFLY = [[13.398, 52.525], [13.413, 52.525], [13.413, 52.530], [13.398, 52.530], [13.398, 52.525]]
DROPS = [(52.535, 13.403), (52.536, 13.408), (52.534, 13.406), (52.538, 13.401)]
FENCE = {"id": "city", "hub_id": "hub", "geojson": {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"role": "inclusion", "ceiling_m": 100}, "geometry": {"type": "Polygon", "coordinates": [AREA]}},
    {"type": "Feature", "properties": {"role": "exclusion"}, "geometry": {"type": "Polygon", "coordinates": [NOFLY]}},
]}}


def _vehicle(vid: str, type_: str = "drone", **kw) -> dict:
    body = {"id": vid, "type": type_, "hub_id": "hub", "payload_kg": 3, "battery_wh": 600, "wh_per_km": 15,
            "cruise_speed_mps": 12 if type_ == "drone" else 4}
    body.update(kw)
    return body


def _parcel(pid: str, lat: float, lon: float) -> dict:
    return {"id": pid, "weight_kg": 0.8, "size": "small", "hub_id": "hub", "lat": lat, "lon": lon,
            "recipient": {"name": "R", "phone": "+49 30 1234567"}}


async def seed(c, n: int = len(DROPS), far: bool = True) -> None:
    assert (await c.post("/hubs", json=HUB)).status_code == 201
    assert (await c.post("/geofences", json=FENCE)).status_code == 201, (await c.post("/geofences", json=FENCE)).text
    for v in (_vehicle("d1"), _vehicle("d2"), _vehicle("r1", "robot"), _vehicle("off", enabled=False)):
        r = await c.post("/vehicles", json=v)
        assert r.status_code == 201, r.text
    for i, (lat, lon) in enumerate(DROPS[:n]):
        assert (await c.post("/parcels", json=_parcel(f"p{i}", lat, lon))).status_code == 201
    if far:   # outside the inclusion area
        assert (await c.post("/parcels", json=_parcel("far", 52.60, 13.50))).status_code == 201


async def snapshot(c) -> dict:
    """Every table's row count and every parcel's state/version: what a dry run must not change."""
    async with c.app.state.sessionmaker() as s:
        counts = {t.__tablename__: await s.scalar(select(func.count()).select_from(t))
                  for t in (m.Mission, m.Parcel, m.ParcelHistory, m.Command, m.Event, m.Vehicle)}
        parcels = [(p.id, p.state, p.version, p.mission_id, p.vehicle_id)
                   for p in (await s.scalars(select(m.Parcel).order_by(m.Parcel.id))).all()]
    return {"counts": counts, "parcels": parcels}


@pytest.mark.parametrize("kind", ["pyvrp", "greedy"])
async def test_dry_run_routes_avoid_no_fly_zone_and_persist_nothing(client, kind):
    await seed(client)
    before = await snapshot(client)
    r = await client.post("/plans", json={"planner": kind, "time_limit_s": 0.3, "seed": 1})
    assert r.status_code == 200, r.text
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["planner"] == kind
    # all enabled vehicles although none is online (no MQTT here); the disabled one is left out
    assert fc["vehicle_ids"] == ["d1", "d2", "r1"]
    assert fc["unplanned"] == {"far": "outside_area"}
    assert fc["cost"] >= 0 and fc["solve_s"] >= 0
    routes = [f for f in fc["features"] if f["geometry"]["type"] == "LineString"]
    stops = [f for f in fc["features"] if f["geometry"]["type"] == "Point"]
    assert routes
    planned = [pid for f in routes for pid in f["properties"]["parcel_ids"]]
    assert sorted(planned) == [f"p{i}" for i in range(len(DROPS))]
    assert sorted(f["properties"]["parcel_id"] for f in stops) == sorted(planned)
    area, zone = Polygon(AREA), Polygon(NOFLY)
    for f in routes:
        props, coords = f["properties"], f["geometry"]["coordinates"]
        line = LineString(coords)
        assert not line.intersects(zone), f"{props['vehicle_id']} flies through the no-fly zone"
        assert area.covers(line)
        assert coords[0] == coords[-1] == [HUB["lon"], HUB["lat"]]
        assert props["hub_id"] == "hub" and props["vehicle_id"] in ("d1", "d2", "r1")
        assert props["distance_m"] > 0 and props["duration_s"] > 0
        if props["vehicle_id"].startswith("d"):
            assert props["energy_wh"] > 0
        etas = [s["eta_s"] for s in props["stops"]]
        assert etas == sorted(etas) and [s["parcel_id"] for s in props["stops"]] == props["parcel_ids"]
        assert all(datetime.fromisoformat(s["eta"]).tzinfo is not None for s in props["stops"])
        for s in props["stops"]:   # the path passes through each drop-off
            assert [s["lon"], s["lat"]] in coords
        # the detour is real: longer than the straight hub -> stops -> hub polyline
        straight = LineString([coords[0]] + [[s["lon"], s["lat"]] for s in props["stops"]] + [coords[-1]])
        assert straight.intersects(zone) is False or line.length > straight.length
    assert await snapshot(client) == before


async def test_dry_run_selection_and_errors(client):
    await seed(client, n=2, far=False)
    before = await snapshot(client)
    r = await client.post("/plans", json={"parcel_ids": ["p1"], "vehicle_ids": ["d2"], "planner": "greedy"})
    assert r.status_code == 200, r.text
    fc = r.json()
    assert fc["vehicle_ids"] == ["d2"] and fc["parcel_count"] == 1
    [route] = [f for f in fc["features"] if f["geometry"]["type"] == "LineString"]
    assert route["properties"]["vehicle_id"] == "d2" and route["properties"]["parcel_ids"] == ["p1"]
    # an operator may try a disabled vehicle by naming it
    r = await client.post("/plans", json={"vehicle_ids": ["off"], "planner": "greedy"})
    assert r.status_code == 200 and r.json()["vehicle_ids"] == ["off"]

    r = await client.post("/plans", json={"parcel_ids": ["p0", "nope"]})
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    r = await client.post("/plans", json={"vehicle_ids": ["d1", "ghost"]})
    assert r.status_code == 404 and "ghost" in r.json()["detail"]
    for bad in ({"time_limit_s": 0}, {"time_limit_s": 31}, {"time_limit_s": 0.05}, {"planner": "ortools"},
                {"seed": -1}, {"parcel_ids": []}, {"parcel_ids": ["bad id!"]}, {"extra": 1}):
        r = await client.post("/plans", json=bad)
        assert r.status_code == 422, (bad, r.text)
    # nothing is online here: only_online leaves no vehicle
    r = await client.post("/plans", json={"only_online": True})
    assert r.status_code == 409 and "no vehicles" in r.json()["detail"]
    assert await snapshot(client) == before


async def test_dry_run_no_vehicles_and_no_parcels(client):
    assert (await client.post("/hubs", json=HUB)).status_code == 201
    r = await client.post("/plans", json={})
    assert r.status_code == 409 and "no vehicles" in r.json()["detail"]
    assert (await client.post("/vehicles", json=_vehicle("d1"))).status_code == 201
    r = await client.post("/plans", json={})
    assert r.status_code == 200 and r.json()["features"] == [] and r.json()["unplanned"] == {}


async def test_dry_run_parcel_not_created_is_409(client):
    await seed(client, n=1, far=False)
    async with client.app.state.sessionmaker() as s:
        (await s.get(m.Parcel, "p0")).state = "delivered"
        await s.commit()
    r = await client.post("/plans", json={"parcel_ids": ["p0"]})
    assert r.status_code == 409 and "p0" in r.json()["detail"]


def test_settings_defaults_plan_with_pyvrp_briefly():
    s = Settings()
    assert s.planner_kind == "pyvrp" and 0.1 <= s.planner_time_limit_s <= 2.0
    assert Settings(planner_kind="greedy").planner_kind == "greedy"
    with pytest.raises(ValueError):
        Settings(planner_time_limit_s=0)


@pytest.mark.parametrize("kind", ["greedy", "pyvrp"])
def test_planner_flies_the_missions_altitudes_and_missions_carry_leg_paths(kind):
    """The dispatcher's planner prices climbs at the altitudes missions carry, so its energy is
    what the edge agent computes before accepting; the mission carries the legs' paths."""
    settings = Settings(cruise_alt_m=60.0, drop_alt_m=8.0, planner_time_limit_s=0.3)
    planner = make_dispatch_planner(settings, kind)
    assert planner.flight == flight_profile(settings)
    assert (planner.flight.cruise_alt_m, planner.flight.drop_alt_m) == (60.0, 8.0)
    now = datetime.now(timezone.utc)
    hub = m.Hub(id="hub", lat=HUB["lat"], lon=HUB["lon"])
    drone = m.Vehicle(id="d1", type="drone", hub_id="hub", payload_kg=3, battery_wh=600, wh_per_km=15,
                      cruise_speed_mps=12)
    parcels = [m.Parcel(id=f"p{i}", hub_id="hub", lat=lat, lon=lon, weight_kg=0.5, priority=3, excluded_vehicles=[])
               for i, (lat, lon) in enumerate(DROPS)]
    geofence = m.Geofence(id="city", hub_id="hub", geojson=FENCE["geojson"], ceiling_m=100)
    fence = fence_for([geofence], "hub")
    assert fence == parse_geofence(FENCE["geojson"]).to_protocol()
    request = build_request([hub], [drone], parcels, fence, settings, now)
    assert request.geofence.safety_margin_m == settings.planner_safety_margin_m
    plan = planner.plan(request)
    [route] = plan.routes
    mission = route_to_mission(route, drone, hub, {p.id: p for p in parcels}, fence, settings, now)
    assert (mission.cruise_alt_m, mission.drop_alt_m) == (60.0, 8.0)
    assert len(route.legs) == len(mission.stops) + 1
    for stop, leg in zip(mission.stops, route.legs):
        assert [(w.lat, w.lon) for w in stop.path] == [(p.lat, p.lon) for p in leg.path[1:-1]]
    assert [(w.lat, w.lon) for w in mission.return_path] == [(p.lat, p.lon) for p in route.legs[-1].path[1:-1]]
    assert any(s.path for s in mission.stops)   # the zone forces at least one bent leg
    agent = estimate_energy_wh(mission, drone.wh_per_km)
    assert route.energy_wh == pytest.approx(agent, rel=0.01)


@pytest.mark.parametrize("kind", ["pyvrp", "greedy"])
async def test_one_bay_drone_gets_one_parcel_per_trip(client, kind):
    """Drones registered without release_bays have one gripper: one stop per route; the rest wait
    as not_selected (the agent would refuse a two-release mission on one gripper)."""
    assert (await client.post("/hubs", json=HUB)).status_code == 201
    assert (await client.post("/vehicles", json=_vehicle("d1"))).status_code == 201
    for i, (lat, lon) in enumerate(DROPS[:3]):
        assert (await client.post("/parcels", json=_parcel(f"p{i}", lat, lon))).status_code == 201
    r = await client.post("/plans", json={"planner": kind, "time_limit_s": 0.3, "seed": 1})
    assert r.status_code == 200, r.text
    routes = [f for f in r.json()["features"] if f["geometry"]["type"] == "LineString"]
    assert [len(f["properties"]["parcel_ids"]) for f in routes] == [1]
    assert sorted(r.json()["unplanned"].values()) == ["not_selected", "not_selected"]
