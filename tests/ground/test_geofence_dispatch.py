"""A geofence is accepted by the API only if missions can carry it, and a stored fence that cannot
(rows written before that check) stops only its own hub: the others keep planning, and the dry
run says which hub has what problem instead of answering 500."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import select

from ground_control.db import models as m
from ground_control.dispatch.dispatcher import Dispatcher
from ground_control.planning import make_planner
from ground_control.settings import Settings

AREA = [[13.38, 52.50], [13.44, 52.50], [13.44, 52.56], [13.38, 52.56], [13.38, 52.50]]


def _square(i: int) -> list:
    x, y = 13.381 + (i % 30) * 0.0015, 52.501 + (i // 30) * 0.0015
    return [[[x, y], [x + 0.001, y], [x + 0.001, y + 0.001], [x, y + 0.001], [x, y]]]


def fence_doc(exclusions: int) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"role": "inclusion"}, "geometry": {"type": "Polygon", "coordinates": [AREA]}},
        {"type": "Feature", "properties": {"role": "exclusion"},
         "geometry": {"type": "MultiPolygon", "coordinates": [_square(i) for i in range(exclusions)]}},
    ]}


async def seed_two_hubs(c) -> None:
    for hub in ("north", "south"):
        assert (await c.post("/hubs", json={"id": hub, "lat": 52.52, "lon": 13.405})).status_code == 201
        r = await c.post("/vehicles", json={"id": f"d-{hub}", "type": "drone", "hub_id": hub, "payload_kg": 3,
                                            "battery_wh": 600, "wh_per_km": 15, "cruise_speed_mps": 12})
        assert r.status_code == 201, r.text
        r = await c.post("/parcels", json={"id": f"p-{hub}", "weight_kg": 0.8, "size": "small", "hub_id": hub, "lat": 52.535,
                                           "lon": 13.403, "recipient": {"name": "R", "phone": "+49 30 1234567"}})
        assert r.status_code == 201, r.text


async def store_unusable_fence(c, hub_id: str) -> None:
    """As a row written before the API checked protocol limits: 1,500 exclusions."""
    async with c.app.state.sessionmaker() as s:
        s.add(m.Geofence(id=f"legacy-{hub_id}", name="", hub_id=hub_id, geojson=fence_doc(1_500), ceiling_m=120))
        await s.commit()


async def test_api_refuses_a_fence_missions_cannot_carry(client):
    assert (await client.post("/hubs", json={"id": "north", "lat": 52.52, "lon": 13.405})).status_code == 201
    r = await client.post("/geofences", json={"id": "too-many", "hub_id": "north", "geojson": fence_doc(1_500)})
    assert r.status_code == 422, r.text
    assert "1500 exclusion polygons" in r.json()["detail"] and "at most 1000" in r.json()["detail"]
    assert (await client.get("/geofences")).json()["total"] == 0


async def test_dry_run_reports_the_hub_with_an_unusable_fence_and_plans_the_others(client):
    await seed_two_hubs(client)
    await store_unusable_fence(client, "north")
    r = await client.post("/plans", json={"planner": "greedy"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body["hub_errors"]) == ["north"] and "at most 1000" in body["hub_errors"]["north"]
    assert body["unplanned"] == {"p-north": "geofence_unusable"}
    planned = [pid for f in body["features"] if f["geometry"]["type"] == "LineString"
               for pid in f["properties"]["parcel_ids"]]
    assert planned == ["p-south"]


async def test_a_planner_failure_for_one_hub_is_reported_not_a_500(client, monkeypatch):
    """Any failure while planning one hub's group (here the planner raising on it) stays with
    that hub."""
    from ground_control.planning.greedy import GreedyPlanner

    real = GreedyPlanner.plan

    def flaky(self, request):
        if request.hubs[0].hub_id == "north":
            raise ZeroDivisionError("planner bug")
        return real(self, request)

    monkeypatch.setattr(GreedyPlanner, "plan", flaky)
    await seed_two_hubs(client)
    r = await client.post("/plans", json={"planner": "greedy"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["hub_errors"] == {"north": "planning failed: ZeroDivisionError: planner bug"}
    assert body["unplanned"] == {"p-north": "planning_failed"}


async def test_dispatch_keeps_serving_other_hubs(client):
    await seed_two_hubs(client)
    await store_unusable_fence(client, "north")
    async with client.app.state.sessionmaker() as s:
        for v in (await s.scalars(select(m.Vehicle))).all():
            v.online = True
        await s.commit()
    sent: list[str] = []

    async def publish(topic: str, payload: bytes, qos: int) -> None:
        sent.append(topic)

    settings = Settings(database_url="sqlite://", mqtt_enabled=False, planner_kind="greedy")
    dispatcher = Dispatcher(settings, client.app.state.sessionmaker, publish, make_planner("greedy"))
    await dispatcher.plan_and_dispatch()
    assert sent == ["lmf/v1/vehicle/d-south/mission"]
    assert "at most 1000" in dispatcher.hub_problems["north"]
    async with client.app.state.sessionmaker() as s:
        states = {p.id: p.state for p in (await s.scalars(select(m.Parcel))).all()}
        assert (await s.get(m.Parcel, "p-north")).waiting_reason.startswith("geofence_unusable")
    assert states == {"p-north": "created", "p-south": "planned"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_health_answers_while_a_geofence_is_validated(client, monkeypatch):
    """Validation of a big fence runs off the event loop: stand in for a slow validation with
    one that blocks its thread until released (by the test, or by a timer after 5 s), and ask
    /health meanwhile: it must answer before the validation is released."""
    import ground_control.api.routers.geofences as router
    from ground_control.domain.geofence import protocol_geofence

    started, release = threading.Event(), threading.Event()
    timer = threading.Timer(5.0, release.set)

    def slow_validation(doc):
        started.set()
        release.wait(30)
        return protocol_geofence(doc)

    monkeypatch.setattr(router, "protocol_geofence", slow_validation)
    timer.start()
    create = asyncio.create_task(client.post("/geofences", json={"id": "f", "geojson": fence_doc(10)}))
    try:
        deadline = time.monotonic() + 30
        while not started.is_set():
            assert time.monotonic() < deadline, "validation never started"
            await asyncio.sleep(0.01)
        health = await asyncio.wait_for(client.get("/health"), 10)
        answered_while_validating = not release.is_set()
    finally:
        release.set()
        timer.cancel()
    assert health.status_code == 200
    assert answered_while_validating, "/health waited for the geofence validation"
    assert (await create).status_code == 201
