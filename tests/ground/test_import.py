"""Bulk parcel import: CSV (body or multipart) and GeoJSON, all or nothing with per-row errors."""

from __future__ import annotations

import pytest

from gc_helpers import HUB

HEADER = "id,weight_kg,size,hub_id,lat,lon,address,recipient_name,recipient_phone,recipient_email,earliest,latest,priority\n"
ROW_OK = "a-1,1.0,small,hub-1,52.5,13.4,Street 1,Ann,+4930111111,,,,3\n"
ROW_OK2 = "a-2,2.0,medium,hub-1,52.51,13.41,Street 2,Bob,,bob@example.org,2026-11-25T09:00:00Z,2026-11-25T11:00:00Z,5\n"


async def test_csv_body_import(client):
    await client.post("/hubs", json=HUB)
    r = await client.post("/parcels/import", content=HEADER + ROW_OK + ROW_OK2, headers={"content-type": "text/csv"})
    assert r.status_code == 201, r.text
    assert r.json()["total"] == 2
    assert (await client.get("/parcels")).json()["total"] == 2
    # again: every row now conflicts, nothing imported
    r = await client.post("/parcels/import", content=HEADER + ROW_OK, headers={"content-type": "text/csv"})
    assert r.status_code == 422 and "already exists" in str(r.json()["errors"])


async def test_csv_multipart_all_or_nothing(client):
    await client.post("/hubs", json=HUB)
    bad = "a-3,-1,small,hub-1,95,13.4,x,Cy,+4930111111,,,,3\na-4,1,small,ghost,52,13,x,Di,+4930111111,,,,3\n"
    r = await client.post("/parcels/import", files={"file": ("p.csv", HEADER + ROW_OK + bad, "text/csv")})
    assert r.status_code == 422
    body = r.json()
    by_row = {e["row"]: e for e in body["errors"]}
    assert set(by_row) == {3, 4}  # row 3 has schema errors; row 4 names an unknown hub
    assert by_row[4]["id"] == "a-4" and by_row[4]["errors"] == ["hub_id: origin hub 'ghost' does not exist"]
    assert (await client.get("/parcels")).json()["total"] == 0


GHOST_CSV = HEADER + ROW_OK + "b-1,1,small,ghost,52.5,13.4,x,Cy,+4930111111,,,,3\n" \
    + "b-2,-1,small,ghost,52.5,13.4,x,Di,+4930111111,,,,3\n"


def _ghost_fc() -> dict:
    def feat(pid, hub, weight=1, coords=(13.4, 52.5)):
        return {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(coords)},
                "properties": {"id": pid, "weight_kg": weight, "size": "small", "hub_id": hub,
                               "recipient": {"name": "Eve", "email": "eve@example.org"}}}
    return {"type": "FeatureCollection", "features": [
        feat("g-ok", "hub-1"), feat("g-ghost", "ghost"), feat("g-bad", "ghost", weight=-1),
        feat("g-far", "ghost", coords=(200, 52))]}


async def _post_import(client, how: str):
    import json

    if how == "csv body":
        return await client.post("/parcels/import", content=GHOST_CSV, headers={"content-type": "text/csv"})
    if how == "csv multipart":
        return await client.post("/parcels/import", files={"file": ("p.csv", GHOST_CSV, "text/csv")})
    if how == "geojson body":
        return await client.post("/parcels/import", json=_ghost_fc(), headers={"content-type": "application/geo+json"})
    return await client.post("/parcels/import", files={"file": ("p.geojson", json.dumps(_ghost_fc()), "application/geo+json")})


@pytest.mark.parametrize("how", ["csv body", "csv multipart", "geojson body", "geojson multipart"])
async def test_every_row_naming_an_unknown_hub_is_reported_with_its_row_number(client, how):
    await client.post("/hubs", json=HUB)
    r = await _post_import(client, how)
    assert r.status_code == 422, r.text
    by_row = {e["row"]: e["errors"] for e in r.json()["errors"]}
    ghost = "hub_id: origin hub 'ghost' does not exist"
    # CSV rows count the header as row 1; GeoJSON rows are feature indexes from 0
    expected = {3, 4} if how.startswith("csv") else {1, 2, 3}
    assert set(by_row) == expected, by_row
    assert all(ghost in errs for errs in by_row.values()), by_row
    # a row with a schema error too gets both
    assert any(len(errs) >= 2 for errs in by_row.values())
    assert (await client.get("/parcels")).json()["total"] == 0


async def test_csv_format_errors(client):
    for content in ("", "nope,columns\n1,2\n", HEADER, HEADER + ROW_OK + ROW_OK):
        r = await client.post("/parcels/import", content=content, headers={"content-type": "text/csv"})
        assert r.status_code == 422, content
    r = await client.post("/parcels/import", content=b"\xff\xfe", headers={"content-type": "text/csv"})
    assert r.status_code == 422
    r = await client.post("/parcels/import", content=b"x", headers={"content-type": "image/png"})
    assert r.status_code == 415
    r = await client.post("/parcels/import", content=b"--zz\r\nbroken", headers={"content-type": "multipart/form-data; boundary=zz"})
    assert r.status_code == 422


async def test_geojson_import(client):
    await client.post("/hubs", json=HUB)
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [13.4, 52.5]},
         "properties": {"id": "g-1", "weight_kg": 1, "size": "small", "hub_id": "hub-1",
                        "recipient": {"name": "Eve", "email": "eve@example.org"}}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [13.41, 52.51]},
         "properties": {"id": "g-2", "weight_kg": 1, "size": "small", "hub_id": "hub-1",
                        "recipient_name": "Fay", "recipient_phone": "+4930222222"}},
    ]}
    r = await client.post("/parcels/import", json=fc, headers={"content-type": "application/geo+json"})
    assert r.status_code == 201, r.text
    fc["features"][0]["geometry"]["coordinates"] = [200, 52]
    fc["features"][1]["geometry"] = {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
    r = await client.post("/parcels/import", json=fc)
    assert r.status_code == 422 and len(r.json()["errors"]) == 2
    assert (await client.post("/parcels/import", json={"type": "Feature"})).status_code == 422
