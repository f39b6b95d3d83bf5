"""Live tracking (``GET /track/{token}/events``): how fresh a recipient's page is, and what an
open stream costs the database.

1. Freshness: ``--pages`` pages listen on the stream of a real uvicorn server (default settings:
   a check every second) while the vehicle's latest telemetry changes every ``--period`` seconds
   (written as ingest writes it). Measured: from the telemetry row's commit to each page's event
   showing it or a newer one (``push_p50_s``, ``push_p95_s``, ``push_max_s``). Baseline in the
   same run: as many pages polling ``/status`` every 5 s, as the page did before (``poll_*``:
   from the commit to the first poll answer showing it or a newer one), and the requests they
   sent (``poll_requests``).
2. Cost per stream and second: the quiet check (the fingerprint query alone, nothing changed,
   ``quiet_check_ms``) beside the full status build every ``/status`` request and every changed
   check does (``build_ms``), interleaved, median of ``--checks`` each.

    .venv/bin/python benchmarks/tracking_push.py [--pages 50] [--rounds 10] [--period 1.3]
        [--database-url URL]

Every client comes from 127.0.0.1, so the per-client limits are raised for the run. Prints one
JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from ground_control.api.app import create_app  # noqa: E402
from ground_control.auth.bootstrap import bearer, ensure_api_key_async  # noqa: E402
from ground_control.db import models as m  # noqa: E402
from ground_control.embedded.broker import free_port  # noqa: E402
from ground_control.settings import Settings  # noqa: E402
from ground_control.tracking import push  # noqa: E402
from ground_control.tracking.service import public_status  # noqa: E402

HUB = {"id": "bench-hub", "lat": 52.52, "lon": 13.405}
ROBOT = {"id": "bench-robot", "type": "robot", "hub_id": "bench-hub", "payload_kg": 500, "battery_wh": 9000,
         "wh_per_km": 30, "cruise_speed_mps": 3}
POLL_S = 5.0


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 3)


async def seed(app: Any, c: httpx.AsyncClient, pages: int) -> list[tuple[str, str]]:
    """``pages`` parcels in transit on one started robot mission; (parcel id, token) each."""
    assert (await c.post("/hubs", json=HUB)).status_code == 201
    assert (await c.post("/vehicles", json=ROBOT)).status_code == 201
    out = []
    for i in range(pages):
        r = await c.post("/parcels", json={"id": f"bench-{i}", "weight_kg": 1, "size": "small", "hub_id": "bench-hub",
                                           "lat": 52.53 + i * 1e-4, "lon": 13.41, "recipient": {"name": "B", "phone": "+4930123456"}})
        assert r.status_code == 201, r.text
        out.append((f"bench-{i}", r.json()["tracking_url"].rsplit("/track/", 1)[1]))
    async with app.state.sessionmaker() as s:
        stops = [{"parcel_id": pid, "drop_off": {"lat": 52.53 + i * 1e-4, "lon": 13.41}, "action": "handover",
                  "path": []} for i, (pid, _) in enumerate(out)]
        payload = {"mission_id": "bench-m", "vehicle_id": "bench-robot", "vehicle_type": "robot",
                   "hub": {"hub_id": "bench-hub", "position": {"lat": HUB["lat"], "lon": HUB["lon"]}},
                   "stops": stops, "cruise_speed_mps": 3.0, "cruise_alt_m": 0.0, "drop_alt_m": 0.0}
        s.add(m.Mission(id="bench-m", vehicle_id="bench-robot", hub_id="bench-hub", state="started",
                        payload=payload, parcel_ids=[pid for pid, _ in out]))
        await s.flush()
        for pid, _ in out:
            p = await s.get(m.Parcel, pid)
            p.state, p.mission_id, p.vehicle_id = "in_transit", "bench-m", "bench-robot"
        await s.commit()
    return out


class Commits:
    """Telemetry written so far: its time as the status shows it (``eta.as_of``) -> step, and
    when each step was committed. A page is fresh for step k once it shows step k or later, so
    an update a poller skipped (a newer one came first) counts until the page shows the newer."""

    def __init__(self) -> None:
        self.step: dict[str, int] = {}
        self.at: list[float] = []


class Freshness:
    """One page's view: the latest step it showed, the delays it saw."""

    def __init__(self, commits: Commits, out: list[float]) -> None:
        self.commits, self.out, self.shown = commits, out, 0

    def saw(self, status: dict[str, Any]) -> None:
        step = self.commits.step.get((status.get("eta") or {}).get("as_of") or "")
        if step is None or step <= self.shown:
            return
        now = time.monotonic()
        self.out.extend(now - self.commits.at[k] for k in range(self.shown + 1, step + 1))
        self.shown = step


async def write_telemetry(app: Any, step: int, commits: Commits | None = None) -> None:
    """One latest-telemetry row as ingest writes it (the commit time taken just before the
    commit: a page cannot see it earlier)."""
    now = datetime.now(timezone.utc)
    async with app.state.sessionmaker() as s:
        row = await s.get(m.TelemetryLatest, "bench-robot")
        if row is None:
            row = m.TelemetryLatest(vehicle_id="bench-robot", alt_m=0, battery_pct=80, mode="AUTO", armed=True,
                                    gps_fix=3, agent_state="en_route", mission_id="bench-m")
            s.add(row)
        row.lat, row.lon, row.heading_deg, row.ground_speed_mps = 52.521 + step * 1e-5, 13.406, 10.0, 2.5
        row.ts = row.received_at = now
        if commits is not None:
            commits.step[now.isoformat()] = step
            commits.at.append(time.monotonic())
        await s.commit()


async def listener(base: str, token: str, view: Freshness, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=None) as c:
        async with c.stream("GET", f"/track/{token}/events") as r:
            assert r.status_code == 200, (r.status_code, await r.aread())
            event = None
            async for line in r.aiter_lines():
                if stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "status":
                    view.saw(json.loads(line[5:]))


async def poller(base: str, token: str, view: Freshness, stop: asyncio.Event, sent: list[int]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        await asyncio.sleep(random.uniform(0, POLL_S))        # pages open at random moments
        while not stop.is_set():
            r = await c.get(f"/track/{token}/status")
            sent[0] += 1
            view.saw(r.json())
            await asyncio.sleep(POLL_S)


async def check_costs(app: Any, pid: str, n: int) -> dict[str, float]:
    quiet, build = [], []
    settings = app.state.settings
    for _ in range(n):
        async with app.state.sessionmaker() as s:
            t0 = time.perf_counter()
            await push.fingerprint(s, pid)
            quiet.append((time.perf_counter() - t0) * 1000)
        async with app.state.sessionmaker() as s:
            t0 = time.perf_counter()
            await public_status(settings, s, await s.get(m.Parcel, pid))
            build.append((time.perf_counter() - t0) * 1000)
    return {"quiet_check_ms": round(statistics.median(quiet), 3), "build_ms": round(statistics.median(build), 3)}


async def main(pages: int, rounds: int, period: float, checks: int, database_url: str | None) -> dict[str, Any]:
    url = database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='lmf-track-')}/fleet.db"
    settings = Settings(database_url=url, mqtt_enabled=False, tracking_rate_per_min=100_000,
                        tracking_streams_per_client=pages * 2, tracking_streams_max=pages * 2)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="on", timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    out: dict[str, Any] = {"database": url.split(":")[0], "pages": pages, "rounds": rounds, "period_s": period,
                           "check_interval_s": settings.tracking_push_interval_s}
    try:
        key = bearer(await ensure_api_key_async(app.state.sessionmaker, "bench-tracking", "admin"))
        async with httpx.AsyncClient(base_url=base, headers=key, timeout=30) as c:
            parcels = await seed(app, c, pages)
        commits = Commits()
        await write_telemetry(app, 0, commits)
        push_lat: list[float] = []
        poll_lat: list[float] = []
        sent = [0]
        stop = asyncio.Event()
        clients = [asyncio.create_task(listener(base, tok, Freshness(commits, push_lat), stop)) for _, tok in parcels]
        clients += [asyncio.create_task(poller(base, tok, Freshness(commits, poll_lat), stop, sent))
                    for _, tok in parcels]
        await asyncio.sleep(2)                                  # every stream open and quiet
        for step in range(1, rounds + 1):
            await write_telemetry(app, step, commits)
            await asyncio.sleep(period)
        await asyncio.sleep(POLL_S)                             # the last commit reaches every poller
        stop.set()
        for t in clients:
            t.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
        out.update({"push_samples": len(push_lat), "push_p50_s": pct(push_lat, 0.5), "push_p95_s": pct(push_lat, 0.95),
                    "push_max_s": pct(push_lat, 1.0), "poll_samples": len(poll_lat),
                    "poll_p50_s": pct(poll_lat, 0.5), "poll_p95_s": pct(poll_lat, 0.95),
                    "poll_max_s": pct(poll_lat, 1.0), "poll_requests": sent[0]})
        out.update(await check_costs(app, parcels[-1][0], checks))
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--period", type=float, default=1.3)
    ap.add_argument("--checks", type=int, default=300)
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main(args.pages, args.rounds, args.period, args.checks, args.database_url))))
