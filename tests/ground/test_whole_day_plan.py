"""POST /plans with whole_day: later trips (back at the hub, battery swapped) give every feasible
parcel a vehicle and an ETA; without it, one trip per vehicle as dispatch sends them."""

from __future__ import annotations

HUB = {"id": "hub", "lat": 52.52, "lon": 13.405}
DROPS = [(52.523, 13.405), (52.517, 13.405), (52.520, 13.410)]


async def _seed(c) -> None:
    assert (await c.post("/hubs", json=HUB)).status_code == 201
    body = {"id": "d1", "type": "drone", "hub_id": "hub", "payload_kg": 3, "battery_wh": 600,
            "wh_per_km": 15, "cruise_speed_mps": 12}              # one gripper: one parcel a trip
    assert (await c.post("/vehicles", json=body)).status_code == 201
    for i, (lat, lon) in enumerate(DROPS):
        parcel = {"id": f"p{i}", "weight_kg": 0.8, "size": "small", "hub_id": "hub", "lat": lat,
                  "lon": lon, "recipient": {"name": "R", "phone": "+49 30 1234567"}}
        assert (await c.post("/parcels", json=parcel)).status_code == 201


def _routes(r) -> list[dict]:
    assert r.status_code == 200, r.text
    return [f["properties"] for f in r.json()["features"] if f["geometry"]["type"] == "LineString"]


async def test_whole_day_plan_gives_every_parcel_a_trip_and_an_eta(client):
    await _seed(client)
    one = await client.post("/plans", json={"time_limit_s": 0.3, "seed": 1})
    assert [p["trip"] for p in _routes(one)] == [0]
    assert sorted(one.json()["unplanned"].values()) == ["not_selected", "not_selected"]

    day = await client.post("/plans", json={"time_limit_s": 0.3, "seed": 1, "whole_day": True})
    routes = _routes(day)
    assert day.json()["unplanned"] == {}
    assert sorted(p["trip"] for p in routes) == [0, 1, 2]
    assert sorted(pid for p in routes for pid in p["parcel_ids"]) == ["p0", "p1", "p2"]
    routes.sort(key=lambda p: p["trip"])
    for a, b in zip(routes, routes[1:]):         # leaves again after landing + 300 s turnaround
        assert b["depart_s"] >= a["depart_s"] + a["duration_s"] + 300 - 0.2
        assert b["stops"][0]["eta_s"] > a["stops"][0]["eta_s"]
