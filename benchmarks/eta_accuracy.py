"""How accurate the recipient's live ETA is, on the real stack: ground control (API, planner,
MQTT ingest and dispatch), the simulated vehicles (``sitl.SimFleet``) and one edge agent per
vehicle, on a private broker, with the demo city (``ground_control.demo.scenario``).

Every parcel's public status (``GET /track/{token}/status``) is polled while it travels. Its ETA
is sampled twice: at dispatch (the first sample once the parcel is dispatched) and half-way (the
first sample once less than half of the distance left at dispatch remains). Each is compared with
the actual delivery time (the proof's ``delivered_at``). Baseline in the same run: a static ETA
fixed at dispatch, straight-line distance hub -> drop-off at the vehicle's nominal cruise speed
(what a plan-time ETA without progress gives), which at half-way has simply counted down.

Times are simulated seconds (wall seconds x ``--speedup``): the estimator works in the vehicle's
own speed units, so its figures are what a real flight would see. One JSON line:
``{"parcels", "delivered", "sampled", "speedup", "live": {"dispatch": {"mae_s", "p90_s", "bias_s",
"in_band"}, "halfway": {...}}, "baseline": {...}, "wall_s"}``.

    .venv/bin/python benchmarks/eta_accuracy.py --parcels 8 --drones 3 --speedup 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]   # benchmarks/vrplib.py shadows vrplib

from ground_control.api.app import create_app  # noqa: E402
from ground_control.demo.operator import confirm_handovers, paged, post, seed_city  # noqa: E402
from ground_control.demo.runner import start_broker  # noqa: E402
from ground_control.auth.bootstrap import bearer, ensure_api_key_async  # noqa: E402
from ground_control.signing.keys import load_gc_key  # noqa: E402
from fleet_protocol.signing import public_pem  # noqa: E402
from ground_control.demo.scenario import build  # noqa: E402
from ground_control.demo.vehicles import enrolled_agent, start_sim_fleet  # noqa: E402
from ground_control.planning.geometry import haversine_m  # noqa: E402
from ground_control.planning.model import Point  # noqa: E402
from ground_control.settings import Settings  # noqa: E402

TERMINAL = {"delivered", "returned", "delivery_failed", "lost"}


@dataclass
class Sample:
    wall: float                 # time.time() when sampled
    predicted_s: float          # the live ETA's seconds from then (simulated seconds)
    low_s: float
    high_s: float
    remaining_m: float


@dataclass
class Track:
    parcel_id: str
    token: str
    straight_m: float
    nominal_mps: float = 12.0
    kind: str = ""              # drone | robot (of the vehicle that took it)
    dispatch: Sample | None = None
    halfway: Sample | None = None
    delivered_wall: float | None = None
    statuses: list[dict[str, Any]] = field(default_factory=list)   # kept when asked (tests)
    page: str = ""                                                  # the final HTML page, likewise


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _sample(st: dict[str, Any]) -> Sample | None:
    """The status's ETA, counted from the moment its facts were true (``as_of``: the telemetry
    sample's time or the arrival at a stop): with a speed-up, the seconds between that moment and
    the read are worth speed-up times as much in the simulation, so they must not be mixed in."""
    eta = st.get("eta")
    if not eta:
        return None
    base = _seconds(eta["as_of"])
    return Sample(wall=base, predicted_s=_seconds(eta["eta"]) - base, low_s=_seconds(eta["low"]) - base,
                  high_s=_seconds(eta["high"]) - base, remaining_m=eta["remaining_m"])


def _stats(errors: list[float], inside: list[bool]) -> dict[str, Any]:
    if not errors:
        return {"n": 0}
    ab = sorted(abs(e) for e in errors)
    p90 = ab[min(len(ab) - 1, math.ceil(0.9 * len(ab)) - 1)]
    out: dict[str, Any] = {"n": len(errors), "mae_s": round(sum(ab) / len(ab), 1), "p90_s": round(p90, 1),
                           "bias_s": round(sum(errors) / len(errors), 1)}
    if inside:
        out["in_band"] = round(sum(inside) / len(inside), 2)
    return out


def score(tracks: list[Track], speedup: float) -> dict[str, Any]:
    """Errors (predicted - actual, simulated seconds) of the live ETA and the static baseline."""
    live: dict[str, tuple[list[float], list[bool]]] = {"dispatch": ([], []), "halfway": ([], [])}
    base: dict[str, tuple[list[float], list[bool]]] = {"dispatch": ([], []), "halfway": ([], [])}
    for t in tracks:
        if t.delivered_wall is None or t.dispatch is None:
            continue
        static_s = t.straight_m / t.nominal_mps           # baseline, fixed at dispatch
        for name, s in (("dispatch", t.dispatch), ("halfway", t.halfway)):
            if s is None:
                continue
            actual = (t.delivered_wall - s.wall) * speedup
            live[name][0].append(s.predicted_s - actual)
            live[name][1].append(s.low_s <= actual <= s.high_s)
            counted_down = static_s - (s.wall - t.dispatch.wall) * speedup
            base[name][0].append(counted_down - actual)
    return {"live": {k: _stats(*v) for k, v in live.items()}, "baseline": {k: _stats(v[0], []) for k, v in base.items()}}


async def run(parcels: int = 8, drones: int = 3, robots: int = 0, speedup: float = 10.0, seed: int = 7,
              timeout_s: float = 600.0, keep_statuses: bool = False) -> tuple[dict[str, Any], list[Track]]:
    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="lmf-eta-"))
    scenario = build(drones, robots, parcels, seed)
    broker, _ = await asyncio.to_thread(start_broker, "auto")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{workdir / 'fleet.db'}", mqtt_url=broker.url,
        mqtt_client_id=f"gc-eta-{workdir.name}", dispatch_interval_s=0.5, mission_ack_timeout_s=15.0,
        telemetry_silence_timeout_s=20.0, planner_kind="greedy", tracking_rate_per_min=100_000,
    )
    app = create_app(settings)
    fleet = None
    agents: list[Any] = []
    tasks: list[asyncio.Task[Any]] = []
    tracks: dict[str, Track] = {}
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            key = await ensure_api_key_async(app.state.sessionmaker, "eta-benchmark", "admin")
            gc_public = public_pem(load_gc_key(settings))     # the agents pin it: missions are signed
            async with httpx.AsyncClient(transport=transport, base_url="http://gc", timeout=30,
                                         headers=bearer(key)) as api:
                await seed_city(api, scenario)
                fleet, ordered = await start_sim_fleet(scenario, speedup)
                for v, sim in zip(ordered, fleet.vehicles):
                    agent = await enrolled_agent(api, v, sim.port, broker.url, gc_public, workdir, telemetry_hz=2.0)
                    agents.append(agent)
                    tasks.append(asyncio.create_task(agent.run()))
                hubs = {h["id"]: Point(h["lat"], h["lon"]) for h in scenario.hubs}
                tracking: dict[str, str | None] = {}
                for p in scenario.parcels:
                    made = await post(api, "/parcels", p)
                    tracking[p["id"]] = made["tracking_url"]
                    tracks[p["id"]] = Track(p["id"], made["tracking_url"].rsplit("/track/", 1)[1],
                                            straight_m=haversine_m(hubs[p["hub_id"]], Point(p["lat"], p["lon"])))
                robot_ids = {v["id"] for v in scenario.vehicles if v["type"] == "robot"}
                tasks.append(asyncio.create_task(confirm_handovers(api, robot_ids, tracking)))
                speeds = {v["id"]: v["cruise_speed_mps"] for v in scenario.vehicles}
                kinds = {v["id"]: v["type"] for v in scenario.vehicles}
                while time.monotonic() - t0 < timeout_s:
                    rows = {p["id"]: p for p in await paged(api, "/parcels")}
                    if all(r["state"] in TERMINAL for r in rows.values()):
                        break
                    for pid, t in tracks.items():
                        row = rows[pid]
                        if row["state"] not in ("dispatched", "in_transit") or t.delivered_wall is not None:
                            continue
                        st = (await api.get(f"/track/{t.token}/status")).json()
                        if keep_statuses:
                            t.statuses.append(st)
                        s = _sample(st)
                        if s is None:
                            continue
                        if t.dispatch is None:
                            t.dispatch = s
                            t.nominal_mps = speeds.get(row["vehicle_id"], t.nominal_mps)
                            t.kind = kinds.get(row["vehicle_id"], "")
                        elif t.halfway is None and s.remaining_m <= t.dispatch.remaining_m / 2:
                            t.halfway = s
                    await asyncio.sleep(0.2)
                rows = {p["id"]: p for p in await paged(api, "/parcels")}
                for pid, t in tracks.items():
                    proof = rows[pid].get("proof") or {}
                    if rows[pid]["state"] == "delivered" and proof.get("delivered_at"):
                        t.delivered_wall = _seconds(proof["delivered_at"])
                    if keep_statuses:
                        t.statuses.append((await api.get(f"/track/{t.token}/status")).json())
                        t.page = (await api.get(f"/track/{t.token}")).text
                for task in tasks:
                    task.cancel()
                for a in agents:
                    a.stop()
                await asyncio.wait(tasks, timeout=10)
    finally:
        for task in tasks:
            task.cancel()
        if fleet is not None:
            await asyncio.to_thread(fleet.stop)
        await asyncio.to_thread(broker.stop)
        shutil.rmtree(workdir, ignore_errors=True)
    all_tracks = list(tracks.values())
    result = {"parcels": parcels, "drones": drones, "robots": robots, "speedup": speedup,
              "delivered": sum(t.delivered_wall is not None for t in all_tracks),
              "sampled": sum(t.dispatch is not None and t.delivered_wall is not None for t in all_tracks),
              **score(all_tracks, speedup),
              "live_by_kind": {k: score([t for t in all_tracks if t.kind == k], speedup)["live"]
                               for k in sorted({t.kind for t in all_tracks if t.kind})},
              "wall_s": round(time.monotonic() - t0, 1)}
    return result, all_tracks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parcels", type=int, default=8)
    ap.add_argument("--drones", type=int, default=3)
    ap.add_argument("--robots", type=int, default=0)
    ap.add_argument("--speedup", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=600.0)
    a = ap.parse_args()
    result, _ = asyncio.run(run(a.parcels, a.drones, a.robots, a.speedup, a.seed, a.timeout))
    with contextlib.suppress(BrokenPipeError):
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
