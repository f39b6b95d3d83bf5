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
from ground_control.auth.bootstrap import bearer, ensure_admin_user, ensure_api_key_async
from ground_control.demo.activity import describe
from ground_control.demo.operator import confirm_handovers, paged, post, seed_city
from ground_control.demo.outcome import Outcome, classify, default_timeout_s, verdict
from ground_control.demo.scenario import HUBS, Scenario, build
from ground_control.demo.waiting import waiting_reason
from ground_control.embedded.broker import RunningBroker, free_port, start_amqtt, start_mosquitto
from ground_control.embedded.nats_cluster import NatsCluster, start_nats_cluster
from ground_control.settings import Settings

log = logging.getLogger(__name__)

DEMO_ADMIN = "admin"
TERMINAL = frozenset({"delivered", "returned"})
STATES = ("created", "planned", "dispatched", "in_transit", "delivery_failed", "delivered", "returned", "lost")


@dataclass
class DemoOptions:
    drones: int = 3
    robots: int = 2
    parcels: int = 20
    speedup: float = 20.0
    seed: int = 1
    timeout_s: float | None = None   # None: scaled to the work (outcome.default_timeout_s)
    planner: str = "pyvrp"
    broker: str = "auto"             # auto (mosquitto from PATH, else amqtt), mosquitto, amqtt, nats-cluster
    #: kill -9 the broker node every client is connected to once a parcel is aboard (nats-cluster)
    kill_broker_node: bool = False
    workdir: Path | None = None
    port: int = 0                    # HTTP port of ground control; 0 = a free one
    # told (API URL, admin user, its generated password) once ground control is up
    on_login: Callable[[str, str, str], None] | None = None

    @property
    def effective_timeout_s(self) -> float:
        if self.timeout_s is not None:
            return self.timeout_s
        return default_timeout_s(self.parcels, self.drones + self.robots, self.speedup)


@dataclass
class Snapshot:
    """What the display shows: parcel counts by state, one row per vehicle (each with its
    ``activity`` in words), and the parcels waiting to be planned with the reason."""

    elapsed_s: float
    by_state: Counter[str]
    vehicles: list[dict[str, Any]] = field(default_factory=list)
    api_url: str = ""
    broker: str = ""
    waiting: dict[str, str] = field(default_factory=dict)   # parcel id -> why it is not planned
    final: bool = False
    login: str = ""                  # "user / password" of the demo's admin


@dataclass
class DemoResult:
    """Every parcel in one class: delivered, returned, failed (aboard, on its way back),
    moving (by state) or lost (unknown to ground control)."""

    parcels: int
    delivered: int
    failed: int
    lost: int
    wall_s: float
    returned: int = 0
    moving: dict[str, int] = field(default_factory=dict)
    lost_ids: list[str] = field(default_factory=list)
    timed_out: bool = False
    timeout_s: float = 0.0
    delivery_s: dict[str, float] = field(default_factory=dict)   # parcel id -> s from creation
    waiting: dict[str, str] = field(default_factory=dict)        # parcel id -> planner's reason
    missions: int = 0
    events: int = 0
    broker: str = ""
    by_state: dict[str, int] = field(default_factory=dict)
    events_published: int = 0     # events the agents' outboxes had acknowledged by the broker
    dead_letters: int = 0         # messages ground control set aside
    broker_node_killed_at_s: float | None = None
    reconnects: dict[str, int] = field(default_factory=dict)   # ground control / agents: MQTT reconnects

    @property
    def outcome(self) -> Outcome:
        return Outcome(delivered=self.delivered, returned=self.returned, failed=self.failed,
                       moving=self.moving, lost=self.lost_ids or ["(unnamed)"] * self.lost,
                       delivery_s=self.delivery_s)

    def verdict(self) -> tuple[bool, str]:
        return verdict(self.outcome, self.timed_out, self.timeout_s, self.waiting)

    def as_json(self) -> dict[str, Any]:
        ok, why = self.verdict()
        return {"parcels": self.parcels, "delivered": self.delivered, "returned": self.returned,
                "failed": self.failed, "moving": self.moving, "lost": self.lost,
                "lost_ids": self.lost_ids, "timed_out": self.timed_out, "timeout_s": self.timeout_s,
                "ok": ok, "verdict": why, "wall_s": round(self.wall_s, 1), "missions": self.missions,
                "events": self.events, "broker": self.broker, "by_state": self.by_state,
                "waiting": self.waiting, "delivery_s": self.delivery_s,
                "events_published": self.events_published, "dead_letters": self.dead_letters,
                "broker_node_killed_at_s": self.broker_node_killed_at_s, "reconnects": self.reconnects}


def _reconnects(app: Any, agents: list[Any]) -> dict[str, int]:
    runtime = getattr(app.state, "runtime", None)
    gc = max(runtime.link.connects - 1, 0) if runtime is not None else 0
    return {"ground_control": gc, "agents": sum(max(a.mqtt.connects - 1, 0) for a in agents)}


def _node_of(cluster: NatsCluster, app: Any) -> Any:
    """The cluster node ground control's MQTT link is connected to (the first when unknown)."""
    runtime = getattr(app.state, "runtime", None)
    current = runtime.link.endpoints.current if runtime is not None else None
    for node in cluster.nodes:
        if current is not None and node.mqtt_port == current.port:
            return node
    return cluster.nodes[0]


def start_broker(kind: str = "auto") -> tuple[RunningBroker, NatsCluster | None]:
    """A private Mosquitto when the binary exists, else in-process amqtt (zero-install); or a
    three-node NATS cluster (its ``url`` lists every node) for the broker-failover scenario."""
    if kind == "nats-cluster":
        cluster = start_nats_cluster(3)
        return RunningBroker(url=cluster.url, kind="nats-cluster", _stop=cluster.stop), cluster
    return _single_broker(kind), None


def _single_broker(kind: str) -> RunningBroker:
    if kind == "amqtt":
        return start_amqtt()
    try:
        return start_mosquitto()
    except (FileNotFoundError, RuntimeError):
        if kind == "mosquitto":
            raise
        return start_amqtt()


def _near(tel: dict[str, Any] | None, hub: tuple[float, float] | None, radius_m: float = 40.0) -> bool | None:
    if not tel or hub is None or tel.get("lat") is None:
        return None
    dy = (tel["lat"] - hub[0]) * 111_320.0
    dx = (tel["lon"] - hub[1]) * 111_320.0 * 0.61    # cos(52.37 deg): the demo city
    return (dx * dx + dy * dy) ** 0.5 <= radius_m


def _all_done(parcels: list[dict[str, Any]], expected: set[str]) -> bool:
    return {p["id"] for p in parcels} >= expected and all(p["state"] in TERMINAL for p in parcels)


def _waiting(parcels: list[dict[str, Any]]) -> dict[str, str]:
    return {p["id"]: waiting_reason(p) for p in parcels if p["state"] == "created"}


async def _snapshot(api: httpx.AsyncClient, parcels: list[dict[str, Any]], elapsed_s: float,
                    api_url: str, broker: str, final: bool = False, login: str = "") -> Snapshot:
    """Fresh state for the view: each vehicle's detail and its newest event, so what it shows is
    what ground control knows now, never a state a vehicle has left."""
    last_event: dict[str, dict[str, Any]] = {}
    for ev in (await api.get("/events", params={"order": "desc", "limit": 500})).json()["items"]:
        if ev["kind"] != "command_ack":
            last_event.setdefault(ev["vehicle_id"], ev)
    details = []
    for v in await paged(api, "/vehicles"):
        d = (await api.get(f"/vehicles/{v['id']}")).json()
        tel = d.get("telemetry")
        d["activity"] = describe(d["type"], d.get("active_mission_id"), tel, last_event.get(d["id"]),
                                 at_hub=_near(tel, HUBS.get(d["hub_id"])))
        details.append(d)
    return Snapshot(elapsed_s, Counter(p["state"] for p in parcels), details, api_url, broker,
                    waiting=_waiting(parcels), final=final, login=login)


async def run_demo(opts: DemoOptions, on_update: Callable[[Snapshot], None] | None = None) -> DemoResult:
    from fleet_protocol.signing import public_pem
    from ground_control.demo.vehicles import enrolled_agent, start_sim_fleet
    from ground_control.signing.keys import load_gc_key

    t0 = time.monotonic()
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="lmf-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    scenario: Scenario = build(opts.drones, opts.robots, opts.parcels, opts.seed)
    broker, cluster = await asyncio.to_thread(start_broker, opts.broker)
    killed_at: float | None = None
    port = opts.port or free_port()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{workdir / 'fleet.db'}",
        mqtt_url=broker.url, mqtt_client_id=f"ground-control-demo-{port}",
        dispatch_interval_s=0.5, mission_ack_timeout_s=15.0, telemetry_silence_timeout_s=20.0,
        planner_kind=opts.planner, planner_time_limit_s=1.0, host="127.0.0.1", port=port,
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
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
        # the demo sets itself up: an admin a person logs in as, and a key for its own calls
        password = await ensure_admin_user(app.state.sessionmaker, DEMO_ADMIN)
        login = f"{DEMO_ADMIN} / {password}"
        if opts.on_login is not None:
            opts.on_login(api_url, DEMO_ADMIN, password)
        key = await ensure_api_key_async(app.state.sessionmaker, "demo-operator", "admin")
        async with httpx.AsyncClient(base_url=api_url, timeout=30, headers=bearer(key)) as api:
            await seed_city(api, scenario)

            fleet, ordered = await start_sim_fleet(scenario, opts.speedup)
            robots = [v for v in ordered if v["type"] == "robot"]
            gc_public = public_pem(load_gc_key(settings))
            for v, sim in zip(ordered, fleet.vehicles):
                agent = await enrolled_agent(api, v, sim.port, broker.url, gc_public, workdir, telemetry_hz=1.0)
                agents.append(agent)
                agent_tasks.append(asyncio.create_task(agent.run(), name=f"agent-{v['id']}"))

            tracking: dict[str, str | None] = {}
            for parcel in scenario.parcels:
                tracking[parcel["id"]] = (await post(api, "/parcels", parcel))["tracking_url"]
            helper_tasks.append(asyncio.create_task(confirm_handovers(api, {v["id"] for v in robots}, tracking)))

            expected = {p["id"] for p in scenario.parcels}
            timeout_s = opts.effective_timeout_s
            parcels: list[dict[str, Any]] = []
            done = False
            while not done and time.monotonic() - t0 < timeout_s:
                parcels = await paged(api, "/parcels")
                done = _all_done(parcels, expected)
                if opts.kill_broker_node and cluster is not None and killed_at is None \
                        and any(p["state"] == "in_transit" for p in parcels):
                    # every client was given the nodes in the same order, so all should be on the
                    # first; kill the one ground control is really on, should one have moved on
                    node = _node_of(cluster, app)
                    await asyncio.to_thread(cluster.kill, node)
                    killed_at = time.monotonic() - t0
                    log.warning("demo: killed broker node %s at %.1f s", node.name, killed_at)
                if not done:
                    if on_update is not None:
                        on_update(await _snapshot(api, parcels, time.monotonic() - t0, api_url, broker.kind,
                                                  login=login))
                    await asyncio.sleep(0.5)
            wall_s = time.monotonic() - t0
            if not done:   # the deadline passed while sleeping: count what is there now
                parcels = await paged(api, "/parcels")
                done = _all_done(parcels, expected)
            if on_update is not None:   # the last view shows the end state, not the last poll
                on_update(await _snapshot(api, parcels, wall_s, api_url, broker.kind, final=True, login=login))
            missions = (await api.get("/missions", params={"limit": 1})).json()["total"]
            events = (await api.get("/events", params={"limit": 1})).json()["total"]
            dead = (await api.get("/dead-letters", params={"limit": 1})).json()["total"]
            waiting = _waiting(parcels)
        outcome = classify(expected, parcels)
        return DemoResult(parcels=len(expected), delivered=outcome.delivered, failed=outcome.failed,
                          lost=len(outcome.lost), lost_ids=outcome.lost, returned=outcome.returned,
                          moving=outcome.moving, timed_out=not done, timeout_s=timeout_s,
                          delivery_s=outcome.delivery_s, waiting=waiting, wall_s=wall_s,
                          missions=missions, events=events, broker=broker.kind,
                          by_state=dict(Counter(p["state"] for p in parcels)),
                          events_published=sum(a.mqtt.published_events for a in agents),
                          dead_letters=dead, broker_node_killed_at_s=killed_at,
                          reconnects=_reconnects(app, agents))
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
