"""Request limits and honest health: a body over its limit is answered 413 with the reason
whether it declares its length or streams it chunked; /health says 503 and what is down."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from ground_control.api.app import create_app
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.embedded.broker import mosquitto_binary, start_mosquitto
from ground_control.settings import Settings
from gc_helpers import parcel

MiB = 1_048_576
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def big_parcel(size: int) -> bytes:
    return json.dumps(parcel("big", address="x" * size)).encode()


async def test_declared_length_over_the_limit_is_413(client):
    r = await client.post("/parcels", content=big_parcel(2 * MiB), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["detail"] == f"request body larger than {MiB} bytes"


async def test_chunked_body_over_the_limit_is_413_without_reading_it_all(client):
    sent = 0

    async def chunks():
        nonlocal sent
        for _ in range(40):          # 40 MiB if it were all read
            sent += 1
            yield b" " * MiB

    r = await client.post("/parcels", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    assert sent <= 3, f"{sent} MiB read before refusing"


async def test_geojson_properties_of_megabytes_are_not_stored(client):
    fence = {"id": "f", "geojson": {"type": "Feature", "properties": {"note": "x" * (10 * MiB)},
                                    "geometry": {"type": "Polygon", "coordinates": [
                                        [[13.3, 52.4], [13.5, 52.4], [13.5, 52.6], [13.3, 52.6], [13.3, 52.4]]]}}}
    r = await client.post("/geofences", json=fence)
    assert r.status_code == 413
    fence["geojson"]["properties"]["note"] = "x" * 5_000     # fits the body limit, not the properties one
    r = await client.post("/geofences", json=fence)
    assert r.status_code == 422 and "properties are larger than 4096 bytes" in r.json()["detail"]
    assert (await client.get("/geofences")).json()["total"] == 0


async def test_import_has_its_own_larger_limit(client):
    """1.2 MiB of CSV is read and judged row by row (here: every row names an unknown hub, so
    nothing is imported and no handover code is hashed), not refused as too large."""
    header = "id,weight_kg,size,hub_id,lat,lon,address,recipient_name,recipient_phone\n"
    rows = "".join(f"i-{i},1.0,small,nohub,52.5,13.4,{'Street ' * 64},Ann,+4930111111\n" for i in range(2_600))
    assert len(rows) > 1.2 * MiB
    r = await client.post("/parcels/import", content=header + rows, headers={"content-type": "text/csv"})
    assert r.status_code == 422 and r.json()["error_count"] == 2_600, r.text[:300]
    r = await client.post("/parcels/import", content=b"x" * (12 * MiB), headers={"content-type": "text/csv"})
    assert r.status_code == 413


async def test_health_is_503_when_the_database_is_unreachable(client):
    assert (await client.get("/health")).json() == {"ok": True, "down": [], "database": True, "mqtt": False,
                                                    "mqtt_enabled": False}
    engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    good = client.app.state.sessionmaker
    client.app.state.sessionmaker = make_sessionmaker(engine)
    try:
        r = await client.get("/health")
    finally:
        client.app.state.sessionmaker = good
        await engine.dispose()
    assert r.status_code == 503
    assert r.json()["ok"] is False and r.json()["down"] == ["database"]


async def test_health_is_503_while_mqtt_is_down(db_url):
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is needed")
    broker = start_mosquitto()
    settings = Settings(database_url=db_url, mqtt_url=broker.url, mqtt_client_id=f"gc-health-{time.time_ns()}")
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                r = await c.get("/health")
                assert r.status_code == 200 and r.json()["mqtt"] is True
                broker.stop()
                deadline = time.monotonic() + 30
                while (r := await c.get("/health")).status_code == 200:
                    assert time.monotonic() < deadline, "health still ok with the broker gone"
                    await asyncio.sleep(0.1)
                assert r.status_code == 503 and r.json()["down"] == ["mqtt"] and r.json()["database"] is True
    finally:
        broker.stop()


async def test_chunked_multipart_import_over_its_limit_is_413(client):
    """The import reads multipart itself; the limit still answers 413, not an unreadable body."""
    boundary = "lmf-boundary"

    async def body():
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n'
               'Content-Type: text/csv\r\n\r\n').encode()
        for _ in range(12):
            yield b"x" * MiB
        yield f"\r\n--{boundary}--\r\n".encode()

    r = await client.post("/parcels/import", content=body(),
                          headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and "larger than 11048576 bytes" in r.json()["detail"]
