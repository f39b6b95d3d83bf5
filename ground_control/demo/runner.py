"""Runs the demo: starts every part, seeds the city through the public API, plays the customers
who confirm robot handovers, and watches parcels until each is delivered or returned.

Everything talks over the real protocols: HTTP to ground control, MQTT through a broker, MAVLink
between each agent and its simulated autopilot. Nothing is called in-process across those lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import uvicorn

from ground_control.api.app import create_app
from ground_control.demo.operator import confirm_handovers, paged, post, seed_city
from ground_control.demo.scenario import Scenario, build
from ground_control.embedded.broker import RunningBroker, free_port, start_amqtt, start_mosquitto
from ground_control.settings import Settings

log = logging.getLogger(__name__)

TERMINAL = frozenset({"delivered", "returned"})
STATES = ("created", "planned", "dispatched", "in_transit", "delivery_failed", "delivered", "returned")


@dataclass
class DemoOptions:
    drones: int = 3
    robots: int = 2
    parcels: int = 20
    speedup: float = 20.0
    seed: int = 1
    timeout_s: float = 110.0
    planner: str = "pyvrp"
    broker: str = "auto"             # auto (mosquitto from PATH, else amqtt), mosquitto, amqtt
    workdir: Path | None = None
    port: int = 0                    # HTTP port of ground control; 0 = a free one


@dataclass
class Snapshot:
    """What the display shows: parcel counts by state and one row per vehicle."""

    elapsed_s: float
    by_state: Counter[str]
    vehicles: list[dict[str, Any]] = field(default_factory=list)
    api_url: str = ""
    broker: str = ""


@dataclass
class DemoResult:
    parcels: int
    delivered: int
    failed: int
    lost: int
    wall_s: float
    missions: int = 0
    events: int = 0
    broker: str = ""
    by_state: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"parcels": self.parcels, "delivered": self.delivered, "failed": self.failed,
                "lost": self.lost, "wall_s": round(self.wall_s, 1), "missions": self.missions,
                "events": self.events, "broker": self.broker, "by_state": self.by_state}


def start_broker(kind: str = "auto") -> RunningBroker:
    """A private Mosquitto when the binary exists, else in-process amqtt (zero-install)."""
    if kind == "amqtt":
        return start_amqtt()
    try:
        return start_mosquitto()
    except (FileNotFoundError, RuntimeError):
        if kind == "mosquitto":
            raise
        return start_amqtt()


async def run_demo(opts: DemoOptions, on_update: Callable[[Snapshot], None] | None = None) -> DemoResult:
    from edge_agent.agent import Agent     # the vehicle side: imported here, only the demo needs it
    from sitl import SimFleet

    t0 = time.monotonic()
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="lmf-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    scenario: Scenario = build(opts.drones, opts.robots, opts.parcels, opts.seed)
    broker = await asyncio.to_thread(start_broker, opts.broker)
    port = opts.port or free_port()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{workdir / 'fleet.db'}",
        mqtt_url=broker.url, mqtt_client_id=f"ground-control-demo-{port}",
        dispatch_interval_s=0.5, mission_ack_timeout_s=15.0, telemetry_silence_timeout_s=20.0,
        planner_kind=opts.planner, planner_time_limit_s=1.0, host="127.0.0.1", port=port,
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    server_task = asyncio.create_task(server.serve(), name="demo-api")
    fleet = None
    agents: list[Any] = []
    agent_tasks: list[asyncio.Task[None]] = []
    helper_tasks: list[asyncio.Task[None]] = []
    api_url = f"http://127.0.0.1:{port}"
    try:
        while not server.started:
            if server_task.done():
                server_task.result()
                raise RuntimeError("ground control exited during start-up")
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=api_url, timeout=30) as api:
            await seed_city(api, scenario)

            drones = [v for v in scenario.vehicles if v["type"] == "drone"]
            robots = [v for v in scenario.vehicles if v["type"] == "robot"]
            ordered = drones + robots          # SimFleet numbers copters first, then rovers
            fleet = SimFleet(copters=len(drones), rovers=len(robots), speedup=opts.speedup, base_port=0,
                             homes=[scenario.homes[v["id"]] for v in ordered])
            await asyncio.to_thread(fleet.start)
            for v, sim in zip(ordered, fleet.vehicles):
                agent = Agent(vehicle_id=v["id"], mavlink_url=f"tcp:127.0.0.1:{sim.port}", mqtt_url=broker.url,
                              vehicle_type=v["type"], max_payload_kg=v["payload_kg"], battery_wh=v["battery_wh"],
                              wh_per_km=v["wh_per_km"], telemetry_hz=1.0,
                              outbox_path=str(workdir / f"{v['id']}-outbox.db"))
                agents.append(agent)
                agent_tasks.append(asyncio.create_task(agent.run(), name=f"agent-{v['id']}"))

            for parcel in scenario.parcels:
                await post(api, "/parcels", parcel)
            helper_tasks.append(asyncio.create_task(confirm_handovers(api, {v["id"] for v in robots})))

            expected = {p["id"] for p in scenario.parcels}
            parcels: list[dict[str, Any]] = []
            while time.monotonic() - t0 < opts.timeout_s:
                parcels = await paged(api, "/parcels")
                by_state = Counter(p["state"] for p in parcels)
                if on_update is not None:
                    vehicles = await paged(api, "/vehicles")
                    details = []
                    for v in vehicles:
                        d = (await api.get(f"/vehicles/{v['id']}")).json()
                        details.append(d)
                    on_update(Snapshot(time.monotonic() - t0, by_state, details, api_url, broker.kind))
                if {p["id"] for p in parcels} >= expected and all(p["state"] in TERMINAL for p in parcels):
                    break
                await asyncio.sleep(0.5)
            missions = (await api.get("/missions", params={"limit": 1})).json()["total"]
            events = (await api.get("/events", params={"limit": 1})).json()["total"]
        found = {p["id"]: p["state"] for p in parcels}
        by_state = Counter(found.values())
        # lost: a parcel ground control no longer knows, or one still not delivered or returned
        # when the demo ends -- nobody could say where it is or what happens to it next.
        lost = sum(1 for pid in expected if found.get(pid) not in TERMINAL)
        return DemoResult(parcels=len(expected), delivered=by_state["delivered"], failed=by_state["returned"],
                          lost=lost, wall_s=time.monotonic() - t0, missions=missions, events=events,
                          broker=broker.kind, by_state=dict(by_state))
    finally:
        # Ground control first, so the agents' last wills at shutdown are not taken for vehicles
        # lost mid-mission.
        for t in helper_tasks:
            t.cancel()
        server.should_exit = True
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(server_task, 15)
        for a in agents:
            a.stop()
        if agent_tasks:
            await asyncio.wait(agent_tasks, timeout=10)
        if fleet is not None:
            await asyncio.to_thread(fleet.stop)
        await asyncio.to_thread(broker.stop)
        if opts.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
