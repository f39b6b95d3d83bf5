"""What per-vehicle broker accounts cost the vehicle endpoints: POST /vehicles, PATCH enabled
false/true, POST .../broker-credentials and DELETE with FLEET_BROKER_ADMIN=dynsec against a real
Mosquitto with the dynamic security plugin (a private one on a free port), and the baseline in
the same run: the same requests with FLEET_BROKER_ADMIN=none. In-process API (httpx ASGI
transport), SQLite, MQTT runtime off. One JSON line per mode and request: median and p95 in ms.

    .venv/bin/python benchmarks/broker_provisioning.py [--vehicles 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
_HERE = Path(__file__).resolve().parent
# this folder's vrplib.py would shadow the vrplib package pyvrp imports
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT / "tests" / "broker"))   # the tests' private dynsec Mosquitto

from broker_harness import ADMIN_PASSWORD, ADMIN_USER, start_dynsec_broker  # noqa: E402
from ground_control.api.app import create_app
from ground_control.auth.bootstrap import bearer, ensure_api_key_async  # noqa: E402
from ground_control.settings import Settings  # noqa: E402


def vehicle(vid: str) -> dict:
    return {"id": vid, "type": "drone", "hub_id": "hub", "payload_kg": 2.5, "battery_wh": 500,
            "wh_per_km": 20, "cruise_speed_mps": 12}


async def run_mode(mode: str, n: int, folder: Path, port: int | None) -> dict[str, list[float]]:
    extra = {} if mode == "none" else dict(broker_admin="dynsec", mqtt_url=f"mqtt://127.0.0.1:{port}",
                                           broker_admin_username=ADMIN_USER, broker_admin_password=ADMIN_PASSWORD)
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{folder}/{mode}.db", mqtt_enabled=False, **extra))
    times: dict[str, list[float]] = {k: [] for k in ("register", "disable", "enable", "reissue", "delete")}
    async with app.router.lifespan_context(app):
        key = await ensure_api_key_async(app.state.sessionmaker, f"bench-{mode}", "admin")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gc",
                                     headers=bearer(key)) as c:
            assert (await c.post("/hubs", json={"id": "hub", "lat": 52.52, "lon": 13.405})).status_code == 201
            for i in range(n):
                vid = f"bench-{i}"
                steps = [("register", "post", "/vehicles", {"json": vehicle(vid)}),
                         ("disable", "patch", f"/vehicles/{vid}", {"json": {"enabled": False}}),
                         ("enable", "patch", f"/vehicles/{vid}", {"json": {"enabled": True}}),
                         ("reissue", "post", f"/vehicles/{vid}/broker-credentials", {}),
                         ("delete", "delete", f"/vehicles/{vid}", {})]
                for name, method, path, kw in steps:
                    t = time.perf_counter()
                    r = await c.request(method.upper(), path, **kw)
                    times[name].append((time.perf_counter() - t) * 1000)
                    expected = 409 if (name == "reissue" and mode == "none") else r.status_code
                    assert r.status_code < 300 or r.status_code == expected, (name, r.status_code, r.text)
    return times


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vehicles", type=int, default=30)
    args = ap.parse_args()
    broker = start_dynsec_broker()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mode in ("none", "dynsec"):
                times = await run_mode(mode, args.vehicles, Path(tmp), broker.port)
                for name, xs in times.items():
                    print(json.dumps({"mode": mode, "request": name, "n": len(xs),
                                      "median_ms": round(statistics.median(xs), 1), "p95_ms": round(p95(xs), 1)}))
    finally:
        broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
