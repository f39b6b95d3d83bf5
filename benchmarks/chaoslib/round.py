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
from ground_control.demo.scenario import Scenario, build


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


@dataclass
class GcAccount:
    """Ground control's side at the verdict, from its API."""

    parcels: list[dict[str, Any]]
    missions: list[dict[str, Any]]
    event_ids: set[str]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Round:
    def __init__(self, cfg: RoundConfig) -> None:
        self.cfg = cfg
        self.t0 = time.time()
        self.rng = random.Random(cfg.seed * 1000 + cfg.index)
        self.scenario: Scenario = build(cfg.drones, cfg.robots, cfg.parcels, seed=cfg.seed + cfg.index)
        self.expected = [p["id"] for p in self.scenario.parcels]
        self.vehicles = [v["id"] for v in self.scenario.vehicles]
        self.timeline: list[tuple[float, str]] = []
        self.fleet: Fleet | None = None
        self.recorder: Recorder | None = None
        self.api = httpx.AsyncClient(timeout=10)
        self.tasks: list[asyncio.Task[Any]] = []

    def traffic(self) -> Traffic:
        assert self.recorder is not None
        return digest(read_records(self.recorder.path))

    async def run(self) -> RoundResult:
        cfg = self.cfg
        cfg.folder.mkdir(parents=True, exist_ok=True)
        db = await RoundDatabase.create(cfg.database, f"{int(self.t0)}_{cfg.index}", cfg.folder)
        self.fleet = Fleet(cfg.folder, self.scenario, db, cfg.speedup, self.timeline)
        try:
            await self.bring_up(self.fleet)
            deadline = time.time() + cfg.timeout_s
            detail, injected_at = await self.inject(self.fleet, deadline)
            await self.wait_done(deadline)
            return await self.verdict(detail, injected_at)
        finally:
            await self.tear_down(db)

    async def bring_up(self, fleet: Fleet) -> None:
        await asyncio.to_thread(fleet.start_broker)
        # the recorder subscribes before anyone else publishes
        self.recorder = Recorder("127.0.0.1", fleet.broker_port, self.cfg.folder / "recorder.jsonl")
        await asyncio.to_thread(self.recorder.start)
        fleet.start_gc()
        await fleet.wait_gc()
        self.api = httpx.AsyncClient(base_url=fleet.api_url, timeout=10, headers=fleet.api_headers)
        await seed_city(self.api, self.scenario)
        await fleet.start_vehicles()
        self.tasks.append(asyncio.create_task(fleet.watchdog(), name="watchdog"))
        await self.wait_online()
        tracking: dict[str, str | None] = {}   # each recipient's page, which shows the handover code
        for parcel in self.scenario.parcels:
            tracking[parcel["id"]] = (await post(self.api, "/parcels", parcel))["tracking_url"]
        fleet.note(f"{len(self.expected)} parcels posted")
        robots = {v["id"] for v in self.scenario.vehicles if v["type"] == "robot"}
        self.tasks.append(asyncio.create_task(confirm_handovers(self.api, robots, tracking), name="recipients"))

    async def wait_online(self, timeout: float = 90) -> None:
        assert self.fleet is not None
        deadline = time.time() + timeout
        while time.time() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                page = (await self.api.get("/vehicles", params={"online": "true", "limit": 1})).json()
                if page["total"] >= len(self.vehicles):
                    self.fleet.note(f"{len(self.vehicles)} vehicles online")
                    return
            await asyncio.sleep(0.5)
        self.fleet.note(f"not every vehicle online after {timeout:.0f} s; starting anyway")

    async def inject(self, fleet: Fleet, deadline: float) -> tuple[str, float]:
        """Once the recorder saw the first mission started, after a seeded 1-10 s."""
        while time.time() < deadline and not any("started" in m.events for m in self.traffic().missions.values()):
            await asyncio.sleep(0.5)
        fleet.note("first mission started")
        await asyncio.sleep(self.rng.uniform(1, 10))
        injected_at = time.time() - self.t0
        fleet.note(f"fault {self.cfg.fault} injected")
        detail = await FAULTS[self.cfg.fault](fleet, self.traffic(), self.rng)
        fleet.note(f"fault {self.cfg.fault} done: {detail}")
        return detail, injected_at

    async def wait_done(self, deadline: float) -> None:
        """Every parcel terminal per ground control and every vehicle idle per its telemetry (a
        vehicle still flying could yet drop a parcel twice), or the deadline."""
        assert self.fleet is not None
        last_progress = 0.0
        while time.time() < deadline:
            await asyncio.sleep(1.0)
            try:
                parcels = await paged(self.api, "/parcels")
            except (httpx.HTTPError, ValueError):
                continue
            if time.time() - last_progress >= 15:
                last_progress = time.time()
                log(f"  [{time.time() - self.t0:5.0f} s] " + " ".join(
                    f"{k}={v}" for k, v in sorted(Counter(p["state"] for p in parcels).items())))
            terminal = {p["id"] for p in parcels if p["state"] in TERMINAL}
            if terminal >= set(self.expected) and _all_idle(self.traffic(), self.vehicles, time.time()):
                self.fleet.note("every parcel terminal, every vehicle idle")
                return
        self.fleet.note(f"round deadline ({self.cfg.timeout_s:.0f} s) reached")

    async def gc_account(self) -> GcAccount:
        for _ in range(30):           # ground control may be restarting or its database out
            with contextlib.suppress(httpx.HTTPError, ValueError):
                return GcAccount(await paged(self.api, "/parcels"), await paged(self.api, "/missions"),
                                 {e["id"] for e in await paged(self.api, "/events")})
            await asyncio.sleep(1.0)
        return GcAccount([], [], set())

    async def verdict(self, detail: str, injected_at: float) -> RoundResult:
        assert self.fleet is not None and self.recorder is not None
        gc = await self.gc_account()
        tr = self.traffic()
        verdict = judge(self.expected, gc.parcels, gc.missions, tr, now=time.time())
        counts = {**verdict.counts, "events_missed_by_gc": len(tr.event_ids - gc.event_ids),
                  "events_missed_by_recorder": len(gc.event_ids - tr.event_ids)}
        (self.cfg.folder / "api-snapshot.json").write_text(
            json.dumps({"parcels": gc.parcels, "missions": gc.missions}, indent=1))
        result = RoundResult(self.cfg.index, self.cfg.fault, detail, counts, time.time() - self.t0,
                             round(injected_at, 1), verdict,
                             [f"{t - self.t0:6.1f} s  {text}" for t, text in self.timeline])
        _report(result, tr, self.fleet, self.recorder, gc.parcels)
        return result

    async def tear_down(self, db: RoundDatabase) -> None:
        for t in self.tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await self.api.aclose()
        if self.fleet is not None:
            await asyncio.to_thread(self.fleet.stop)
        if self.recorder is not None:
            self.recorder.stop()
        with contextlib.suppress(Exception):
            await db.drop()
        if not self.cfg.keep:
            shutil.rmtree(self.cfg.folder, ignore_errors=True)


async def run_round(cfg: RoundConfig) -> RoundResult:
    return await Round(cfg).run()


def _all_idle(tr: Traffic, vehicles: list[str], now: float) -> bool:
    for v in vehicles:
        t, state, mission = tr.telemetry.get(v, (0.0, "", None))
        if now - t > 5 or state != "idle" or mission:
            return False
    return True


def _report(result: RoundResult, tr: Traffic, fleet: Fleet, recorder: Recorder, parcels: list[dict[str, Any]]) -> None:
    """Per-round diagnostics on stderr: the timeline, the counts, every parcel that is not fine."""
    log(f"round {result.index}: fault {result.fault} ({result.detail})")
    for line in result.timeline:
        log(f"  {line}")
    log("  counts: " + json.dumps(result.counts))
    log(f"  recorder: {recorder.messages} messages, {recorder.connects} connects, {len(tr.event_ids)} distinct events, "
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
