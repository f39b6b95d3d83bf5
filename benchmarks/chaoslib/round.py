"""One chaos round: bring the fleet up, seed the city, inject the fault once the first parcel is
in transit, wait until every parcel is terminal and every vehicle idle (or the deadline), then
judge every parcel against the recording. Everything is torn down whatever happens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chaoslib.database import RoundDatabase
from chaoslib.faults import FAULTS
from chaoslib.fleet import Fleet
from chaoslib.recorder import Recorder, read_records
from chaoslib.verdict import TERMINAL, Traffic, Verdict, digest, judge
from ground_control.demo.operator import confirm_handovers, paged, post, seed_city
from ground_control.demo.scenario import build


@dataclass
class RoundConfig:
    index: int
    fault: str
    parcels: int
    drones: int
    robots: int
    seed: int
    speedup: float
    database: str            # postgres | sqlite
    folder: Path
    timeout_s: float
    keep: bool = False


@dataclass
class RoundResult:
    index: int
    fault: str
    detail: str
    counts: dict[str, int]
    wall_s: float
    injected_at_s: float | None
    verdict: Verdict | None = None
    timeline: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"round": self.index, "fault": self.fault, "detail": self.detail, **self.counts,
                "injected_at_s": self.injected_at_s, "wall_s": round(self.wall_s, 1)}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _traffic(recorder: Recorder) -> Traffic:
    return digest(read_records(recorder.path))


async def _gc_state(api: httpx.AsyncClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    try:
        return await paged(api, "/parcels"), await paged(api, "/missions")
    except (httpx.HTTPError, ValueError):
        return None


def _all_idle(tr: Traffic, vehicles: list[str], now: float) -> bool:
    for v in vehicles:
        t, state, mission = tr.telemetry.get(v, (0.0, "", None))
        if now - t > 5 or state != "idle" or mission:
            return False
    return True


async def run_round(cfg: RoundConfig) -> RoundResult:
    t0 = time.time()
    rng = random.Random(cfg.seed * 1000 + cfg.index)
    cfg.folder.mkdir(parents=True, exist_ok=True)
    scenario = build(cfg.drones, cfg.robots, cfg.parcels, seed=cfg.seed + cfg.index)
    expected = [p["id"] for p in scenario.parcels]
    vehicles = [v["id"] for v in scenario.vehicles]
    timeline: list[tuple[float, str]] = []
    db = await RoundDatabase.create(cfg.database, f"{int(t0)}_{cfg.index}", cfg.folder)
    fleet = Fleet(cfg.folder, scenario, db, cfg.speedup, timeline)
    recorder: Recorder | None = None
    tasks: list[asyncio.Task[Any]] = []
    detail, injected_at = "not injected", None
    api = httpx.AsyncClient(timeout=10)
    try:
        await asyncio.to_thread(fleet.start_broker)
        recorder = Recorder("127.0.0.1", fleet.broker_port, cfg.folder / "recorder.jsonl")
        await asyncio.to_thread(recorder.start)
        fleet.start_gc()
        await fleet.wait_gc()
        api = httpx.AsyncClient(base_url=fleet.api_url, timeout=10)
        await seed_city(api, scenario)
        await fleet.start_vehicles()
        tasks.append(asyncio.create_task(fleet.watchdog(), name="watchdog"))
        await _wait_online(api, len(vehicles), fleet)
        for parcel in scenario.parcels:
            await post(api, "/parcels", parcel)
        fleet.note(f"{len(expected)} parcels posted")
        robots = {v["id"] for v in scenario.vehicles if v["type"] == "robot"}
        tasks.append(asyncio.create_task(confirm_handovers(api, robots), name="recipients"))

        # the fault: once the first parcel is in transit, after a seeded delay
        deadline = time.time() + cfg.timeout_s
        while time.time() < deadline:
            tr = _traffic(recorder)
            if any("started" in m.events for m in tr.missions.values()):
                break
            await asyncio.sleep(0.5)
        fleet.note("first mission started")
        await asyncio.sleep(rng.uniform(1, 10))
        injected_at = time.time() - t0
        fleet.note(f"fault {cfg.fault} injected")
        detail = await FAULTS[cfg.fault](fleet, _traffic(recorder), rng)
        fleet.note(f"fault {cfg.fault} done: {detail}")

        # until every parcel is terminal and every vehicle idle, or the deadline
        last_progress = 0.0
        while time.time() < deadline:
            await asyncio.sleep(1.0)
            state = await _gc_state(api)
            tr = _traffic(recorder)
            if state is None:
                continue
            parcels, _missions = state
            if time.time() - last_progress >= 15:
                last_progress = time.time()
                log(f"  [{time.time() - t0:5.0f} s] " + " ".join(
                    f"{k}={v}" for k, v in sorted(Counter(p["state"] for p in parcels).items())))
            terminal = {p["id"] for p in parcels if p["state"] in TERMINAL}
            if terminal >= set(expected) and _all_idle(tr, vehicles, time.time()):
                fleet.note("every parcel terminal, every vehicle idle")
                break
        else:
            fleet.note(f"round deadline ({cfg.timeout_s:.0f} s) reached")

        state = None
        for _ in range(30):           # ground control may be restarting or its database out
            if (state := await _gc_state(api)) is not None:
                break
            await asyncio.sleep(1.0)
        parcels, missions = state or ([], [])
        tr = _traffic(recorder)
        verdict = judge(expected, parcels, missions, tr, now=time.time())
        (cfg.folder / "api-snapshot.json").write_text(json.dumps({"parcels": parcels, "missions": missions}, indent=1))
        result = RoundResult(cfg.index, cfg.fault, detail, verdict.counts, time.time() - t0, _r(injected_at),
                             verdict, [f"{t - t0:6.1f} s  {text}" for t, text in timeline])
        _report(result, tr, fleet, recorder, parcels)
        return result
    finally:
        for t in tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await api.aclose()
        await asyncio.to_thread(fleet.stop)
        if recorder is not None:
            recorder.stop()
        with contextlib.suppress(Exception):
            await db.drop()
        if not cfg.keep:
            shutil.rmtree(cfg.folder, ignore_errors=True)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


async def _wait_online(api: httpx.AsyncClient, n: int, fleet: Fleet, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            if (await api.get("/vehicles", params={"online": "true", "limit": 1})).json()["total"] >= n:
                fleet.note(f"{n} vehicles online")
                return
        await asyncio.sleep(0.5)
    fleet.note(f"not every vehicle online after {timeout:.0f} s; starting anyway")


def _report(result: RoundResult, tr: Traffic, fleet: Fleet, recorder: Recorder, parcels: list[dict[str, Any]]) -> None:
    """Per-round diagnostics on stderr: the timeline, the counts, every parcel that is not fine."""
    log(f"round {result.index}: fault {result.fault} ({result.detail})")
    for line in result.timeline:
        log(f"  {line}")
    log("  counts: " + json.dumps(result.counts))
    log(f"  recorder: {recorder.messages} messages, {recorder.connects} connects, {tr.events_seen} distinct events, "
        f"{tr.duplicates} duplicate deliveries, {len(tr.missions)} missions published; fleet: {json.dumps(fleet.info())}")
    for name, lines in (("broker", fleet.broker_errors()), ("ground control", _log_errors(fleet.folder / "ground-control.log"))):
        for line in _distinct(lines)[:5]:
            log(f"  {name} log: {line[:300]}")
    log("  parcel states (ground control): " + json.dumps(dict(Counter(p["state"] for p in parcels))))
    assert result.verdict is not None
    for v in result.verdict.problems():
        carried = [f"{m.mission_id}@{m.vehicle_id}" for m in tr.missions.values() if v.parcel_id in m.parcel_ids]
        log(f"  ! {v.parcel_id}: {v.outcome}{' + DELIVERED TWICE' if v.delivered_twice else ''}"
            f"{' + CARRIED TWICE' if v.carried_twice else ''} "
            f"(gc: {v.gc_state}) {v.why}; missions: {', '.join(carried) or '-'}")


def _log_errors(path: Path) -> list[str]:
    text = path.read_text(errors="replace") if path.exists() else ""
    return [line for line in text.splitlines() if " ERROR " in line or " WARNING " in line]


def _distinct(lines: list[str]) -> list[str]:
    """One line per message, timestamps stripped, with its count."""
    counts = Counter(line.split(" ", 2)[-1] for line in lines)
    return [f"{n}x {msg}" for msg, n in counts.most_common()]
