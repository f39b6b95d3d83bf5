"""How long /health takes to answer while oversized requests arrive: a 40 MB body with
Content-Length, the same streamed chunked, and a 1e6-vertex geofence, against a real uvicorn
server in its own process (SQLite, MQTT off; `fleet serve`'s app). Prints one JSON line: the status each big request got, how long it
took to be answered, and the slowest /health answer while they were in flight; the baseline in
the same run is a tiny request (422) with the same /health probing.

    .venv/bin/python benchmarks/request_limits.py
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ground_control.auth.bootstrap import bearer, new_bootstrap_key

from ground_control.embedded.broker import free_port

MB = 1_000_000


def vertex_fence(n: int) -> bytes:
    """A circle of ``n`` vertices (a valid polygon of any size)."""
    ring = [[13.4 + 0.09 * math.cos(2 * math.pi * i / n), 52.5 + 0.09 * math.sin(2 * math.pi * i / n)]
            for i in range(n)]
    ring.append(ring[0])
    return json.dumps({"id": "huge", "geojson": {"type": "Feature", "properties": {},
                                                 "geometry": {"type": "Polygon", "coordinates": [ring]}}}).encode()


async def probe_health(c: httpx.AsyncClient, stop: asyncio.Event, worst: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await c.get("/health")
        worst.append(time.perf_counter() - t)
        await asyncio.sleep(0.05)


async def measure(c: httpx.AsyncClient, name: str, **request: object) -> dict[str, object]:
    stop, worst = asyncio.Event(), []
    probe = asyncio.create_task(probe_health(c, stop, worst))
    await asyncio.sleep(0.2)
    t = time.perf_counter()
    r = await c.post(request.pop("path"), **request)  # type: ignore[arg-type]
    took = time.perf_counter() - t
    await asyncio.sleep(0.2)
    stop.set()
    await probe
    return {"request": name, "status": r.status_code, "answered_s": round(took, 3),
            "health_max_s": round(max(worst), 3), "health_n": len(worst)}


async def main() -> None:
    port = free_port()
    db = Path(tempfile.mkdtemp(prefix="lmf-limits-")) / "fleet.db"
    key = new_bootstrap_key()   # an admin key the server is started with: the API needs a credential
    env = {**os.environ, "FLEET_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "FLEET_MQTT_ENABLED": "false",
           "FLEET_BOOTSTRAP_API_KEY": key}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "ground_control.api.app:create_app",
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env)
    big = b"[" + b" " * (40 * MB) + b"]"

    async def chunks():
        for i in range(0, len(big), MB):
            yield big[i:i + MB]

    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120, headers=bearer(key)) as c:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await c.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start")
                await asyncio.sleep(0.1)
            json_header = {"content-type": "application/json"}
            results = [
                await measure(c, "baseline: a 2-byte body", path="/parcels", content=b"{}", headers=json_header),
                await measure(c, "40 MB with Content-Length", path="/parcels", content=big, headers=json_header),
                await measure(c, "40 MB chunked", path="/parcels", content=chunks(), headers=json_header),
                await measure(c, "1e6-vertex geofence", path="/geofences", content=vertex_fence(1_000_000),
                              headers=json_header),
                await measure(c, "9,999-position geofence (accepted)", path="/geofences",
                              content=vertex_fence(9_998), headers=json_header),
            ]
    finally:
        server.terminate()
        server.wait(10)
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    asyncio.run(main())
