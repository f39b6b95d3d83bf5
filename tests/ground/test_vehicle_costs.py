"""/vehicle-types/{kind}/costs: the prices of the planner's money-and-time objective, set per
vehicle kind over the API and used by the next plan."""

from __future__ import annotations

HUB = {"id": "hub", "lat": 52.52, "lon": 13.405}


async def _fleet_and_parcel(c) -> None:
    assert (await c.post("/hubs", json=HUB)).status_code == 201
    for vid, kind, speed in (("d1", "drone", 12), ("r1", "robot", 6)):
        body = {"id": vid, "type": kind, "hub_id": "hub", "payload_kg": 3, "battery_wh": 600,
                "wh_per_km": 15, "cruise_speed_mps": speed}
        assert (await c.post("/vehicles", json=body)).status_code == 201
    parcel = {"id": "p", "weight_kg": 0.8, "size": "small", "hub_id": "hub", "lat": 52.527,
              "lon": 13.405, "recipient": {"name": "R", "phone": "+49 30 1234567"}}
    assert (await c.post("/parcels", json=parcel)).status_code == 201


async def _who_delivers(c) -> list[str]:
    r = await c.post("/plans", json={"time_limit_s": 0.3, "seed": 1})
    assert r.status_code == 200, r.text
    assert r.json()["objective"] == "time"
    return [f["properties"]["vehicle_id"] for f in r.json()["features"]
            if f["geometry"]["type"] == "LineString"]


async def test_costs_default_then_configured(client):
    r = await client.get("/vehicle-types/drone/costs")
    assert r.status_code == 200 and r.json()["source"] == "default"
    body = {"cost_per_km": 0.2, "cost_per_hour": 9.5, "fixed_cost_per_trip": 1.0}
    r = await client.put("/vehicle-types/drone/costs", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"kind": "drone", **body, "source": "configured"}
    assert (await client.get("/vehicle-types/drone/costs")).json()["cost_per_hour"] == 9.5
    body["cost_per_hour"] = 3.0
    assert (await client.put("/vehicle-types/drone/costs", json=body)).json()["cost_per_hour"] == 3.0
    assert (await client.get("/vehicle-types/robot/costs")).json()["source"] == "default"


async def test_costs_bad_input_is_422_with_a_reason(client):
    ok = {"cost_per_km": 0.2, "cost_per_hour": 9.5, "fixed_cost_per_trip": 1.0}
    for kind, body in (("boat", ok), ("drone", {**ok, "cost_per_km": -1}),
                       ("drone", {**ok, "extra": 1}), ("drone", {"cost_per_km": 1})):
        r = await client.put(f"/vehicle-types/{kind}/costs", json=body)
        assert r.status_code == 422, (kind, body, r.text)
        assert r.text
    assert (await client.get("/vehicle-types/drone/costs")).json()["source"] == "default"


async def test_the_plan_follows_the_configured_prices(client):
    await _fleet_and_parcel(client)
    assert await _who_delivers(client) == ["d1"]          # defaults: the drone is quicker
    dear = {"cost_per_km": 500.0, "cost_per_hour": 5000.0, "fixed_cost_per_trip": 500.0}
    assert (await client.put("/vehicle-types/drone/costs", json=dear)).status_code == 200
    assert await _who_delivers(client) == ["r1"]


def test_dispatch_planner_builds_travel_costs_once_across_rounds(monkeypatch):
    """The dispatcher keeps one planner: its rounds reuse the travel costs of parcels seen."""
    from datetime import datetime, timezone

    import ground_control.planning.cost_cache as cost_cache
    from ground_control.db import models as m
    from ground_control.dispatch.mission_builder import build_request, make_dispatch_planner
    from ground_control.settings import Settings

    builds = []
    real = cost_cache.build_costs
    monkeypatch.setattr(cost_cache, "build_costs", lambda *a, **kw: builds.append(1) or real(*a, **kw))
    settings = Settings(mqtt_enabled=False, planner_time_limit_s=0.2)
    now = datetime.now(timezone.utc)
    hub = m.Hub(id="hub", lat=52.52, lon=13.405)
    drone = m.Vehicle(id="d1", type="drone", hub_id="hub", payload_kg=3.0, battery_wh=600.0,
                      wh_per_km=15.0, cruise_speed_mps=12.0, release_bays=2)
    parcels = [m.Parcel(id=f"p{i}", hub_id="hub", lat=52.523 + 0.001 * i, lon=13.405, weight_kg=0.5,
                        priority=1, earliest=None, latest=None) for i in range(3)]
    planner = make_dispatch_planner(settings)
    for group in (parcels, parcels, parcels[1:]):        # unchanged, then one parcel dispatched
        plan = planner.plan(build_request([hub], [drone], group, None, settings, now))
        assert plan.routes
    assert len(builds) == 1
