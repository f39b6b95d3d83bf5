"""The recipient's tracking link: unguessable unique tokens, a plain 404 for anything else, a
page that shows this parcel only (the vehicle only while it heads to this recipient, the
handover code, the proof), a drop spot validated against radius and geofence that the mission
then targets, a per-client rate limit, and a handover secret that survives a restart."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from fleet_protocol import parse_message, topics
from ground_control.api.app import create_app
from ground_control.api.handover import handover_secret
from ground_control.db import models as m
from ground_control.dispatch.dispatcher import Dispatcher
from ground_control.domain import handover_code as hc
from ground_control.planning import make_planner
from ground_control.settings import Settings
from gc_helpers import HUB, headers_for, parcel

import httpx

ROBOT = {"id": "robot-1", "type": "robot", "hub_id": "hub-1", "payload_kg": 20, "battery_wh": 900,
         "wh_per_km": 30, "cruise_speed_mps": 3}
DRONE = {"id": "drone-1", "type": "drone", "hub_id": "hub-1", "payload_kg": 2.5, "battery_wh": 500,
         "wh_per_km": 20, "cruise_speed_mps": 12}


def token_of(url: str) -> str:
    return url.rsplit("/track/", 1)[1]


@pytest.fixture()
async def seeded(client):
    assert (await client.post("/hubs", json=HUB)).status_code == 201
    return client


async def test_tokens_are_unguessable_unique_and_only_their_hash_is_stored(seeded):
    c = seeded
    header = "id,weight_kg,size,hub_id,lat,lon,address,recipient_name,recipient_phone\n"
    rows = "".join(f"t-{i},1.0,small,hub-1,52.53,13.41,Street {i},Ann,+4930111111\n" for i in range(40))
    r = await c.post("/parcels/import", content=header + rows, headers={"content-type": "text/csv"})
    assert r.status_code == 201, r.text
    urls = {i["id"]: i["tracking_url"] for i in r.json()["items"]}
    tokens = {token_of(u) for u in urls.values()}
    assert len(tokens) == 40
    assert all(u.startswith("http://127.0.0.1:8000/track/") for u in urls.values())
    for t in tokens:
        assert len(base64.urlsafe_b64decode(t + "=")) == 32          # 256 bits
    # the parcel resource shows the same link again, the list too; never the handover code
    one = (await c.get("/parcels/t-7")).json()
    assert one["tracking_url"] == urls["t-7"] and "handover_code" not in one
    listed = (await c.get("/parcels", params={"limit": 100})).json()["items"]
    assert {i["id"]: i["tracking_url"] for i in listed} == urls
    async with c.app.state.sessionmaker() as s:
        stored = json.dumps([[getattr(p, col.key) for col in m.Parcel.__table__.columns]
                             for p in (await s.scalars(select(m.Parcel))).all()], default=str)
    assert not any(t in stored for t in tokens)
    assert (await c.get(f"/track/{token_of(urls['t-7'])}/status")).status_code == 200


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_unknown_and_malformed_tokens_are_the_same_plain_404(seeded):
    c = seeded
    r = await c.post("/parcels", json=parcel("p-1"))
    real = token_of(r.json()["tracking_url"])
    flipped = ("A" if real[0] != "A" else "B") + real[1:]
    answers = []
    for tok in (flipped, "x", "%2E%2E", "a" * 5000, "not-base64-!!", real + "A"):
        for suffix in ("", "/status"):
            answers.append(await c.get(f"/track/{tok}{suffix}"))
    assert {(a.status_code, a.content) for a in answers} == {(404, b'{"detail":"Not Found"}')}
    assert (await c.get(f"/track/{real}")).status_code == 200


async def put_on_mission(c, stops: list[str], vehicle: str, state: str = "started") -> None:
    """A started mission of ``vehicle`` visiting ``stops`` in order, its parcels in transit,
    and the vehicle's latest telemetry near the hub."""
    async with c.app.state.sessionmaker() as s:
        payload = {"mission_id": "m-1", "vehicle_id": vehicle, "vehicle_type": "robot",
                   "hub": {"hub_id": "hub-1", "position": {"lat": HUB["lat"], "lon": HUB["lon"]}},
                   "stops": [], "cruise_speed_mps": 3.0, "cruise_alt_m": 0.0, "drop_alt_m": 0.0}
        for pid in stops:
            p = await s.get(m.Parcel, pid)
            payload["stops"].append({"parcel_id": pid, "drop_off": {"lat": p.lat, "lon": p.lon},
                                     "action": "handover", "path": []})
        s.add(m.Mission(id="m-1", vehicle_id=vehicle, hub_id="hub-1", state=state, payload=payload,
                        parcel_ids=stops))
        await s.flush()
        for pid in stops:
            p = await s.get(m.Parcel, pid)
            p.state, p.mission_id, p.vehicle_id = "in_transit", "m-1", vehicle
        now = datetime.now(timezone.utc)
        s.add(m.TelemetryLatest(vehicle_id=vehicle, lat=52.521, lon=13.406, alt_m=0, heading_deg=10,
                                ground_speed_mps=2.5, battery_pct=80, mode="AUTO", armed=True, gps_fix=3,
                                agent_state="en_route", mission_id="m-1", ts=now, received_at=now))
        await s.commit()


async def test_the_page_shows_this_parcel_only_and_the_vehicle_only_when_it_heads_here(seeded):
    c = seeded
    assert (await c.post("/vehicles", json=ROBOT)).status_code == 201
    mine = await c.post("/parcels", json=parcel("p-mine", address="Mine Str. 1", lat=52.53, lon=13.41,
                                               recipient={"name": "Ada Lovelace", "phone": "+49 30 999111",
                                                          "email": "ada@example.org"}))
    other = await c.post("/parcels", json=parcel("p-other", address="Other Str. 9", lat=52.525, lon=13.40,
                                                recipient={"name": "Bob Other", "phone": "+49 30 555666"}))
    token = token_of(mine.json()["tracking_url"])
    assert "handover_code" not in mine.text                                          # not for the sender
    async with c.app.state.sessionmaker() as s:
        row = await s.get(m.Parcel, "p-mine")
        code = hc.shown_code(await handover_secret(c.app.state.settings, s), row.handover_salt)
    await put_on_mission(c, ["p-other", "p-mine"], "robot-1")

    st = (await c.get(f"/track/{token}/status")).json()
    page = (await c.get(f"/track/{token}")).text
    assert st["state"] == "in_transit" and st["address"] == "Mine Str. 1"
    assert st["vehicle"] is None and st["path"] == [] and st["stops_before"] == 1   # serving p-other first
    assert st["eta"] is not None and st["eta"]["low"] <= st["eta"]["eta"] <= st["eta"]["high"]
    assert st["handover_code"] == code                                               # shown here only
    assert [h["state"] for h in st["timeline"]] == ["created"]
    for secret in ("p-other", "Other Str. 9", "52.525", "Bob", "555666", "Ada", "999111", "ada@example.org",
                   "robot-1", "m-1", "p-mine", "hub-1"):
        assert secret not in json.dumps(st) and secret not in page, secret

    # p-other handed over: the vehicle now heads to this recipient and shows, with the leg
    async with c.app.state.sessionmaker() as s:
        (await s.get(m.Parcel, "p-other")).state = "delivered"
        await s.commit()
    st = (await c.get(f"/track/{token}/status")).json()
    assert st["vehicle"] == {"lat": 52.521, "lon": 13.406, "heading_deg": 10, "at": st["vehicle"]["at"]}
    assert st["path"][-1] == {"lat": 52.53, "lon": 13.41} and st["stops_before"] == 0
    # the other parcel's page never shows the vehicle on its way to someone else
    other_status = (await c.get(f"/track/{token_of(other.json()['tracking_url'])}/status")).json()
    assert other_status["vehicle"] is None and other_status["eta"] is None


async def test_a_vehicle_not_yet_started_is_not_shown(seeded):
    c = seeded
    assert (await c.post("/vehicles", json=ROBOT)).status_code == 201
    r = await c.post("/parcels", json=parcel("p-1"))
    await put_on_mission(c, ["p-1"], "robot-1", state="accepted")
    st = (await c.get(f"/track/{token_of(r.json()['tracking_url'])}/status")).json()
    assert st["vehicle"] is None and st["eta"]["basis"].endswith("at_hub")


FENCE = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"role": "inclusion"}, "geometry": {"type": "Polygon", "coordinates": [
        [[13.38, 52.50], [13.44, 52.50], [13.44, 52.5296], [13.38, 52.5296], [13.38, 52.50]]]}},
    {"type": "Feature", "properties": {"role": "exclusion"}, "geometry": {"type": "Polygon", "coordinates": [
        [[13.4098, 52.5298], [13.4110, 52.5298], [13.4110, 52.5290], [13.4098, 52.5290], [13.4098, 52.5298]]]}},
]}


async def test_drop_spot_is_validated_and_the_mission_sent_targets_it(seeded):
    c = seeded
    assert (await c.post("/vehicles", json=DRONE)).status_code == 201
    assert (await c.post("/geofences", json={"id": "f", "geojson": FENCE})).status_code == 201
    r = await c.post("/parcels", json=parcel("p-1", lat=52.5295, lon=13.4095))
    url = f"/track/{token_of(r.json()['tracking_url'])}/drop-spot"

    async def spot(lat, lon):
        return await c.post(url, json={"lat": lat, "lon": lon})

    far = await spot(52.531, 13.4095)
    assert far.status_code == 422 and "must be within 30 m" in far.json()["detail"]
    outside = await spot(52.52975, 13.4095)           # 28 m north: across the area's edge
    assert outside.status_code == 422 and "outside the service area" in outside.json()["detail"]
    in_zone = await spot(52.5295, 13.4099)
    assert in_zone.status_code == 422 and "inside a no-fly zone" in in_zone.json()["detail"]
    too_close = await spot(52.5295, 13.4097)          # 7 m off the zone: within the safety margin
    assert too_close.status_code == 422 and "from a no-fly zone" in too_close.json()["detail"]
    for bad in ({"lat": 91, "lon": 0}, {"lat": "x", "lon": 0}, {"lat": 52.5}):
        assert (await c.post(url, json=bad)).status_code == 422
    ok = await spot(52.5294, 13.4092)
    assert ok.status_code == 200, ok.text
    assert ok.json()["drop_spot"] == {"lat": 52.5294, "lon": 13.4092}
    assert (await c.get("/parcels/p-1")).json()["drop_spot"]["lat"] == 52.5294

    # dispatch: the mission sent to the drone targets the confirmed spot, not the address
    async with c.app.state.sessionmaker() as s:
        (await s.get(m.Vehicle, "drone-1")).online = True
        await s.commit()
    sent: list[tuple[str, bytes]] = []

    async def publish(topic: str, payload: bytes, qos: int) -> None:
        sent.append((topic, payload))

    settings = Settings(database_url="sqlite://", mqtt_enabled=False, planner_kind="greedy")
    await Dispatcher(settings, c.app.state.sessionmaker, publish, make_planner("greedy")).plan_and_dispatch()
    [mission] = [parse_message(t, p, "mission").body for t, p in sent if t == topics.mission("drone-1")]
    target = mission.stops[0].drop_off
    assert (mission.stops[0].parcel_id, target.lat, target.lon) == ("p-1", 52.5294, 13.4092)
    # once its mission went out, the spot can no longer change
    late = await spot(52.5295, 13.4093)
    assert late.status_code == 409 and "before it is dispatched" in late.json()["detail"]
    assert (await c.get(url.removesuffix("/drop-spot") + "/status")).json()["drop_spot_open"] is False


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_public_endpoints_are_rate_limited_per_client(db_url):
    app = create_app(Settings(database_url=db_url, mqtt_enabled=False, tracking_rate_per_min=3))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            answers = [(await c.get("/track/unknown-token")).status_code for _ in range(4)]
            assert answers == [404, 404, 404, 429]
            r = await c.get("/track/unknown-token/status")
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
            assert (await c.get("/health")).status_code == 200          # only /track is limited


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_generated_secret_survives_a_restart_so_links_and_codes_stay_valid(db_url):
    from ground_control.db import server_secrets

    async def run(body=None):
        app = create_app(Settings(database_url=db_url, mqtt_enabled=False))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                         headers=await headers_for(app, "admin")) as c:
                if body is not None:
                    assert (await c.post("/hubs", json=HUB)).status_code == 201
                    assert (await c.post("/parcels", json=body)).status_code == 201
                got = (await c.get("/parcels/p-1")).json()
                return got, (await c.get(f"/track/{token_of(got['tracking_url'])}/status")).json()

    created, before = await run(parcel("p-1"))
    server_secrets._cache.clear()             # a fresh process (or another replica)
    again, after = await run()
    assert again["tracking_url"] == created["tracking_url"]
    assert before["handover_code"] is not None and after["handover_code"] == before["handover_code"]
