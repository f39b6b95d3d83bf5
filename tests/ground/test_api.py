"""HTTP API: CRUD works, every bad input gets a 4xx with a reason (never a 5xx). Runs on SQLite
and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from gc_helpers import HUB, VEHICLE, parcel

SQUARE = [[13.3, 52.4], [13.5, 52.6 - 0.2], [13.5, 52.6], [13.3, 52.6], [13.3, 52.4]]


async def seed(client) -> None:
    assert (await client.post("/hubs", json=HUB)).status_code == 201
    assert (await client.post("/vehicles", json=VEHICLE)).status_code == 201


async def test_openapi_and_console_page(client):
    r = await client.get("/openapi.json")
    assert r.status_code == 200 and "/parcels/import" in r.json()["paths"]
    assert (await client.get("/docs")).status_code == 200
    assert "lastmile-fleet" in (await client.get("/")).text
    assert (await client.get("/health")).json()["database"] is True


async def test_hub_crud_and_conflicts(client):
    await seed(client)
    assert (await client.post("/hubs", json=HUB)).status_code == 409
    r = await client.patch("/hubs/hub-1", json={"name": "Mitte"})
    assert r.status_code == 200 and r.json()["name"] == "Mitte"
    page = (await client.get("/hubs", params={"limit": 1})).json()
    assert page["total"] == 1 and len(page["items"]) == 1
    r = await client.delete("/hubs/hub-1")
    assert r.status_code == 409 and "vehicles" in r.json()["detail"]
    assert (await client.get("/hubs/nope")).status_code == 404
    assert (await client.delete("/hubs/nope")).status_code == 404


@pytest.mark.parametrize("body", [
    {"id": "h", "lat": 91, "lon": 0},
    {"id": "h", "lat": 0, "lon": -181},
    {"id": "bad id!", "lat": 0, "lon": 0},
    {"id": "h", "lat": "NaN", "lon": 0},
    {"id": "h", "lat": 0, "lon": 0, "extra": 1},
    {"id": "h", "lat": 0, "lon": 0, "name": "a\u0000b"},
    {"id": "h" * 65, "lat": 0, "lon": 0},
])
async def test_hub_rejects_bad_input(client, body):
    r = await client.post("/hubs", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


async def test_nan_in_raw_json_is_422(client):
    r = await client.post("/hubs", content=b'{"id":"h","lat":NaN,"lon":Infinity}', headers={"content-type": "application/json"})
    assert r.status_code == 422


async def test_vehicle_validation_and_detail(client):
    await client.post("/hubs", json=HUB)
    r = await client.post("/vehicles", json={**VEHICLE, "hub_id": "nowhere"})
    assert r.status_code == 422 and "hub" in r.json()["detail"]
    for bad in ({"type": "boat"}, {"payload_kg": 0}, {"payload_kg": 1e308}, {"cruise_speed_mps": -1},
                {"battery_wh": 10**30}):
        assert (await client.post("/vehicles", json={**VEHICLE, **bad})).status_code == 422, bad
    assert (await client.post("/vehicles", json=VEHICLE)).status_code == 201
    assert (await client.post("/vehicles", json=VEHICLE)).status_code == 409
    d = (await client.get("/vehicles/drone-1")).json()
    assert d["online"] is False and d["telemetry"] is None
    assert (await client.get("/vehicles/drone-1/telemetry")).status_code == 404
    assert (await client.patch("/vehicles/drone-1", json={"enabled": False})).json()["enabled"] is False
    assert (await client.get("/vehicles", params={"enabled": False})).json()["total"] == 1
    assert (await client.get("/vehicles", params={"type": "robot"})).json()["total"] == 0
    assert (await client.get("/vehicles", params={"limit": 0})).status_code == 422
    assert (await client.get("/vehicles", params={"offset": 10**20})).status_code == 422
    assert (await client.get("/vehicles/x")).status_code == 404


async def test_release_bays_drones_only_default_one(client):
    """A drone releases one parcel per gripper: one bay unless declared; robots have none."""
    await client.post("/hubs", json=HUB)
    assert (await client.post("/vehicles", json=VEHICLE)).json()["release_bays"] == 1
    r = await client.post("/vehicles", json={**VEHICLE, "id": "drone-2", "release_bays": 3})
    assert r.status_code == 201 and r.json()["release_bays"] == 3
    for bad in ({"release_bays": 0}, {"release_bays": 17}, {"type": "robot", "release_bays": 2}):
        r = await client.post("/vehicles", json={**VEHICLE, "id": "x-1", **bad})
        assert r.status_code == 422, bad
    robot = {**VEHICLE, "id": "robot-1", "type": "robot"}
    assert (await client.post("/vehicles", json=robot)).json()["release_bays"] is None
    r = await client.patch("/vehicles/robot-1", json={"release_bays": 2})
    assert r.status_code == 422 and "drones only" in r.json()["detail"]


async def test_commands_are_queued(client):
    await seed(client)
    r = await client.post("/vehicles/drone-1/commands", json={"action": "hold"})
    assert r.status_code == 202 and r.json()["sent_at"] is None
    assert (await client.post("/vehicles/drone-1/commands", json={"action": "fly"})).status_code == 422
    assert (await client.post("/vehicles/ghost/commands", json={"action": "hold"})).status_code == 404
    r = await client.post("/vehicles/drone-1/commands", json={"action": "abort", "mission_id": "m-none"})
    assert r.status_code == 409
    assert (await client.get("/vehicles/drone-1/commands")).json()["total"] == 1


async def test_parcel_create_track_and_filters(client):
    await seed(client)
    r = await client.post("/parcels", json=parcel(time_window={"earliest": "2026-11-25T09:00:00+01:00",
                                                                 "latest": "2026-11-25T12:00:00Z"}))
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["state"] == "created" and p["time_window"]["earliest"].startswith("2026-11-25T08:00")
    assert (await client.post("/parcels", json=parcel())).status_code == 409
    assert (await client.get("/parcels/p-1")).json()["id"] == "p-1"
    hist = (await client.get("/parcels/p-1/history")).json()
    assert [h["to_state"] for h in hist["items"]] == ["created"] and hist["total"] == 1
    assert (await client.get("/parcels/p-1/proof")).status_code == 404
    assert (await client.get("/parcels", params={"state": "created", "hub_id": "hub-1"})).json()["total"] == 1
    assert (await client.get("/parcels", params={"state": "delivered"})).json()["total"] == 0
    assert (await client.get("/parcels", params={"state": "vanished"})).status_code == 422
    assert (await client.get("/parcels/nope")).status_code == 404
    assert (await client.get("/parcels/nope/history")).status_code == 404
    r = await client.post("/parcels", json=parcel("p-2", dims_cm={"length_cm": 50, "width_cm": 40, "height_cm": 30}, size=None))
    assert r.status_code == 201 and r.json()["size"] == "large"


@pytest.mark.parametrize("change,needle", [
    ({"weight_kg": 0}, "weight_kg"),
    ({"weight_kg": "Infinity"}, "weight_kg"),
    ({"priority": 6}, "priority"),
    ({"priority": 10**40}, "priority"),
    ({"lat": -90.5}, "lat"),
    ({"size": "huge"}, "size"),
    ({"size": None}, "size"),
    ({"recipient": {"name": "A"}}, "phone or an email"),
    ({"recipient": {"name": "A", "email": "not-an-email"}}, "email"),
    ({"recipient": {"name": "A", "phone": "call me"}}, "phone"),
    ({"recipient": {"name": "", "phone": "+4930123456"}}, "name"),
    ({"time_window": {"earliest": "2026-11-25T12:00:00Z", "latest": "2026-11-25T09:00:00Z"}}, "earliest must be before"),
    ({"time_window": {"earliest": "2026-11-25T09:00:00", "latest": "2026-11-25T12:00:00Z"}}, "timezone"),
    ({"time_window": {"earliest": "0001-01-01T00:00:00+01:00", "latest": "2026-11-25T12:00:00Z"}}, "range"),
    ({"address": "\ud800"}, "address"),
])
async def test_parcel_rejects_bad_input(client, change, needle):
    await seed(client)
    # raw JSON (ensure_ascii escapes lone surrogates the way a hostile client would send them)
    r = await client.post("/parcels", content=json.dumps(parcel(**change)), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert needle.lower() in str(r.json()["detail"]).lower()


async def test_parcel_unknown_hub_and_transitions(client):
    await seed(client)
    r = await client.post("/parcels", json=parcel(hub_id="ghost"))
    assert r.status_code == 422 and "hub" in r.json()["detail"]
    await client.post("/parcels", json=parcel())
    r = await client.post("/parcels/p-1/transitions", json={"to": "delivered", "reason": "trust me"})
    assert r.status_code == 409
    r = await client.post("/parcels/p-1/transitions", json={"to": "in_transit", "reason": "skip"})
    assert r.status_code == 409 and "only move a parcel to created or returned" in r.json()["detail"]
    # refused transition left nothing behind
    assert (await client.get("/parcels/p-1/history")).json()["total"] == 1
    assert (await client.get("/parcels/p-1")).json()["state"] == "created"
    # a parcel still at the hub may go back to its sender
    r = await client.post("/parcels/p-1/transitions", json={"to": "returned", "reason": "sender cancelled"})
    assert r.status_code == 200 and r.json()["state"] == "returned"
    r = await client.post("/parcels/p-1/transitions", json={"to": "created", "reason": "undo"})
    assert r.status_code == 409 and "cannot go from returned to created" in r.json()["detail"]
    assert (await client.post("/parcels/p-1/transitions", json={"to": "planned", "reason": ""})).status_code == 422
    assert (await client.post("/parcels/nope/transitions", json={"to": "planned", "reason": "x"})).status_code == 404
    assert (await client.delete("/parcels/p-1")).status_code == 409   # returned: kept on record
    await client.post("/parcels", json=parcel("p-2"))
    assert (await client.delete("/parcels/p-2")).status_code == 204
    assert (await client.delete("/parcels/p-2")).status_code == 404


async def test_geofences(client):
    await seed(client)
    good = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"role": "inclusion", "ceiling_m": 100},
         "geometry": {"type": "Polygon", "coordinates": [[[13.3, 52.4], [13.5, 52.4], [13.5, 52.6], [13.3, 52.6], [13.3, 52.4]]]}},
        {"type": "Feature", "properties": {"role": "exclusion"},
         "geometry": {"type": "Polygon", "coordinates": [[[13.4, 52.5], [13.45, 52.5], [13.45, 52.55], [13.4, 52.5]]]}},
    ]}
    r = await client.post("/geofences", json={"id": "berlin", "hub_id": "hub-1", "geojson": good})
    assert r.status_code == 201, r.text
    assert r.json()["ceiling_m"] == 100
    assert (await client.post("/geofences", json={"id": "berlin", "geojson": good})).status_code == 409
    bowtie = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}
    r = await client.post("/geofences", json={"id": "bad", "geojson": bowtie})
    assert r.status_code == 422 and "Self-intersection" in r.json()["detail"]
    unclosed = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}}
    assert "not closed" in (await client.post("/geofences", json={"id": "bad", "geojson": unclosed})).json()["detail"]
    far = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [0, 91], [1, 1], [0, 0]]]}}
    assert "latitude" in (await client.post("/geofences", json={"id": "bad", "geojson": far})).json()["detail"]
    assert (await client.post("/geofences", json={"id": "g2", "hub_id": "ghost", "geojson": good})).status_code == 422
    assert (await client.get("/geofences", params={"hub_id": "hub-1"})).json()["total"] == 1
    assert (await client.delete("/geofences/berlin")).status_code == 204
    assert (await client.get("/geofences/berlin")).status_code == 404


async def test_a_geofence_is_replaced_whole_and_a_refused_document_changes_nothing(client):
    await seed(client)
    inclusion = {"type": "Feature", "properties": {"role": "inclusion", "ceiling_m": 100},
                 "geometry": {"type": "Polygon", "coordinates": [[[13.3, 52.4], [13.5, 52.4], [13.5, 52.6], [13.3, 52.6], [13.3, 52.4]]]}}

    def fence(*zone: list[float]) -> dict:
        return {"type": "FeatureCollection", "features": [inclusion] + [
            {"type": "Feature", "properties": {"role": "exclusion", "name": "zone"},
             "geometry": {"type": "Polygon", "coordinates": [[*zone, zone[0]]]}}]}
    square = fence([13.40, 52.50], [13.45, 52.50], [13.45, 52.55], [13.40, 52.55])
    assert (await client.post("/geofences", json={"id": "city", "hub_id": "hub-1", "geojson": square})).status_code == 201
    moved = fence([13.40, 52.50], [13.48, 52.50], [13.45, 52.55], [13.40, 52.55])   # one corner dragged east
    r = await client.put("/geofences/city", json={"name": "city, edited", "hub_id": "hub-1", "geojson": moved})
    assert r.status_code == 200, r.text
    stored = (await client.get("/geofences/city")).json()
    assert stored["name"] == "city, edited" and stored["geojson"] == moved and stored["hub_id"] == "hub-1"
    # a corner dragged across the opposite edge: the same validation as POST refuses it, nothing changes
    bowtie = fence([13.40, 52.50], [13.45, 52.50], [13.40, 52.55], [13.45, 52.55])
    r = await client.put("/geofences/city", json={"name": "broken", "hub_id": "hub-1", "geojson": bowtie})
    assert r.status_code == 422 and "Self-intersection" in r.json()["detail"]
    assert (await client.get("/geofences/city")).json() == stored
    r = await client.put("/geofences/city", json={"hub_id": "ghost", "geojson": moved})
    assert r.status_code == 422 and (await client.get("/geofences/city")).json() == stored
    assert (await client.put("/geofences/nowhere", json={"geojson": moved})).status_code == 404


async def test_missions_and_events_read(client):
    assert (await client.get("/missions")).json()["total"] == 0
    assert (await client.get("/missions/none")).status_code == 404
    assert (await client.get("/events", params={"kind": "delivered"})).json()["total"] == 0
    assert (await client.get("/events", params={"kind": "exploded"})).status_code == 422
    assert (await client.get("/telemetry")).json()["total"] == 0


async def test_hostile_strings_inside_geojson_are_422(client):
    square = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]
    for props in ({"name": "a\u0000b"}, {"x": "\ud800"}, {"\u0000": 1}):
        gj = {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": square}}
        r = await client.post("/geofences", content=json.dumps({"id": "g", "geojson": gj}),
                              headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text


async def test_a_parcel_read_back_can_be_posted_again_as_a_new_parcel(client):
    """The output carries the input's shape (nested recipient and time window), so what a
    client reads it can post back; only the server's own fields need leaving out."""
    from ground_control.api.schemas import ParcelCreate

    await seed(client)
    sent = parcel("p-orig", size=None, dims_cm={"length_cm": 30, "width_cm": 20, "height_cm": 10},
                  recipient={"name": "Ada", "email": "ada@example.org"},
                  time_window={"earliest": "2026-11-25T09:00:00Z", "latest": "2026-11-25T12:00:00Z"})
    assert (await client.post("/parcels", json=sent)).status_code == 201
    read = (await client.get("/parcels/p-orig")).json()
    assert read["recipient"] == {"name": "Ada", "phone": None, "email": "ada@example.org"}
    assert read["time_window"]["latest"].startswith("2026-11-25T12:00:00")
    again = {k: read[k] for k in ParcelCreate.model_fields} | {"id": "p-copy"}
    r = await client.post("/parcels", json=again)
    assert r.status_code == 201, r.text
    copy = r.json()
    assert {k: copy[k] for k in ParcelCreate.model_fields if k != "id"} == \
        {k: read[k] for k in ParcelCreate.model_fields if k != "id"}
    listed = (await client.get("/parcels")).json()["items"]
    assert {p["id"] for p in listed} == {"p-orig", "p-copy"} and listed[0]["recipient"]["name"] == "Ada"


async def test_every_list_takes_one_order_parameter_with_ascending_default(client):
    await seed(client)
    for pid in ("p-a", "p-b", "p-c"):
        assert (await client.post("/parcels", json=parcel(pid))).status_code == 201
    for pid, action in (("p-a", "hold"), ("p-b", "resume")):
        assert (await client.post("/vehicles/drone-1/commands", json={"action": action})).status_code == 202
    await client.post("/parcels/p-a/transitions", json={"to": "returned", "reason": "sender cancelled"})

    async def ids(path, key="id", **params):
        return [i[key] for i in (await client.get(path, params=params)).json()["items"]]

    assert await ids("/parcels") == ["p-a", "p-b", "p-c"]
    assert await ids("/parcels", order="desc") == ["p-c", "p-b", "p-a"]
    assert await ids("/vehicles/drone-1/commands", key="action") == ["hold", "resume"]
    assert await ids("/vehicles/drone-1/commands", key="action", order="desc") == ["resume", "hold"]
    assert await ids("/parcels/p-a/history", key="to_state") == ["created", "returned"]
    assert await ids("/parcels/p-a/history", key="to_state", order="desc") == ["returned", "created"]
    assert (await client.get("/parcels", params={"order": "sideways"})).status_code == 422
    # every list endpoint documents the same parameter with the same default
    spec = (await client.get("/openapi.json")).json()
    lists = [p for p, ops in spec["paths"].items() if "get" in ops
             and "#/components/schemas/Page" in str(ops["get"]["responses"]["200"].get("content", {}).get("application/json", {}).get("schema"))]
    assert len(lists) >= 9, lists
    for path in lists:
        params = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        assert params["order"]["schema"].get("default") == "asc", path
