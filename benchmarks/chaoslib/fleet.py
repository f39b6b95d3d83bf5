"""One round's running system, every part a real process on 127.0.0.1: a private Mosquitto
(persistence on), ground control (``fleet serve``), the simulated vehicles (``fleet sim``, one
process per hub) and one ``fleet agent`` per vehicle with its own state folder. A watchdog
restarts any part that exits while no fault holds it down, as a service manager would."""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ground_control.auth.bootstrap import bearer, new_bootstrap_key

from chaoslib.database import RoundDatabase
from chaoslib.procs import FLEET, Child, Children
from fleet_keys.keyfile import load_or_create
from fleet_protocol.signing import public_pem
from ground_control.demo.scenario import HUBS, Scenario
from ground_control.embedded.broker import free_port, mosquitto_binary, port_open

#: the shipped broker's persistence settings (deploy/mosquitto/mosquitto.conf), so a kill -9
#: loses what the production broker would lose
BROKER_CONF = """listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {folder}/
autosave_interval 10
max_queued_messages 100000
log_dest file {folder}/mosquitto.log
log_type all
"""
#: run as root, mosquitto drops to the "mosquitto" user, which cannot write our private folder:
#: persistence would silently fail and a restart lose every session
BROKER_AS_ROOT = "user root\n"

#: ground control tuned as the demo tunes it: quick dispatch, a short telemetry silence timeout
GC_ENV = {"FLEET_DISPATCH_INTERVAL_S": "0.5", "FLEET_MISSION_ACK_TIMEOUT_S": "15",
          "FLEET_TELEMETRY_SILENCE_TIMEOUT_S": "20", "FLEET_PLANNER_TIME_LIMIT_S": "1"}

SIM_LINE = re.compile(r"^(copter|rover) \d+ tcp:(\S+)$", re.M)


@dataclass
class Fleet:
    folder: Path
    scenario: Scenario
    db: RoundDatabase
    speedup: float
    timeline: list[tuple[float, str]]
    children: Children = field(default_factory=Children)
    broker: Child | None = None
    gc: Child | None = None
    sims: list[Child] = field(default_factory=list)
    agents: dict[str, Child] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)      # children a fault holds down on purpose
    broker_port: int = 0
    api_url: str = ""
    # the admin API key ground control is started with (FLEET_BOOTSTRAP_API_KEY) and the harness
    # sends; the same key across ground-control restarts
    api_key: str = field(default_factory=new_bootstrap_key)
    #: the simulated packs' energy (fleet sim --battery-wh); None: the simulator's default. The
    #: simulator never recharges, so long runs give the vehicles bigger packs (a swap at the hub)
    sim_battery_wh: float | None = None

    @property
    def api_headers(self) -> dict[str, str]:
        return bearer(self.api_key)

    def note(self, text: str) -> None:
        self.timeline.append((time.time(), text))

    # ---- broker ------------------------------------------------------------------------------
    def start_broker(self) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("chaos needs the mosquitto binary (apt-get install mosquitto)")
        self.broker_port = free_port()
        folder = self.folder / "broker"
        folder.mkdir(exist_ok=True)
        conf = folder / "mosquitto.conf"
        conf.write_text(BROKER_CONF.format(port=self.broker_port, folder=folder)
                        + (BROKER_AS_ROOT if os.geteuid() == 0 else ""))
        self.broker = self.children.add(Child("broker", [binary, "-c", str(conf)], self.folder / "broker.log"))
        self.broker.start()
        self.wait_broker()

    def wait_broker(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.broker_port):
            if time.monotonic() > deadline or (self.broker and not self.broker.alive):
                raise RuntimeError(f"mosquitto did not come up on port {self.broker_port}")
            time.sleep(0.05)

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.broker_port}"

    # ---- ground control ----------------------------------------------------------------------
    def start_gc(self) -> None:
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        env = {**GC_ENV, "FLEET_DATABASE_URL": self.db.url, "FLEET_MQTT_URL": self.mqtt_url,
               "FLEET_MQTT_CLIENT_ID": f"ground-control-chaos-{port}", "FLEET_HOST": "127.0.0.1",
               "FLEET_PORT": str(port), **self.credentials_env()}
        self.gc = self.children.add(Child("ground-control", [*FLEET, "serve"], self.folder / "ground-control.log", env))
        self.gc.start()

    def credentials_env(self) -> dict[str, str]:
        """What every ground-control process of this fleet is started with: the signing key (made
        here, so its public half can be pinned on the agents; one file shared by replicas) and the
        admin API key the harness sends."""
        gc_key_file = self.folder / "gc-signing.key"
        (self.folder / "gc-public.pem").write_text(public_pem(load_or_create(gc_key_file)[0]))
        return {"FLEET_SIGNING_KEY_FILE": str(gc_key_file), "FLEET_BOOTSTRAP_API_KEY": self.api_key}

    async def wait_gc(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.api_url, timeout=5) as api:
            while time.monotonic() < deadline:
                try:
                    if (await api.get("/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if self.gc is not None and not self.gc.alive and "ground-control" not in self.down:
                    raise RuntimeError(f"ground control exited during start-up; see {self.gc.log_path}")
                await asyncio.sleep(0.2)
        raise RuntimeError(f"ground control did not answer /health within {timeout:.0f} s")

    # ---- vehicles ----------------------------------------------------------------------------
    async def start_vehicles(self) -> None:
        """One ``fleet sim`` per hub (its vehicles start at the hub), then an agent per vehicle."""
        ports: dict[str, str] = {}
        for hub, (lat, lon) in HUBS.items():
            here = [v for v in self.scenario.vehicles if v["hub_id"] == hub]
            drones = [v for v in here if v["type"] == "drone"]
            robots = [v for v in here if v["type"] == "robot"]
            if not here:
                continue
            sim = self.children.add(Child(f"sim-{hub}", [
                *FLEET, "sim", "--copters", str(len(drones)), "--rovers", str(len(robots)),
                "--home", f"{lat},{lon}", "--speedup", str(self.speedup), "--base-port", "0",
                "--host", "127.0.0.1",
                *(["--battery-wh", str(self.sim_battery_wh)] if self.sim_battery_wh else [])],
                self.folder / f"sim-{hub}.log"))
            sim.start()
            self.sims.append(sim)
            addrs = await self._sim_addresses(sim, len(here))
            for v, addr in zip(drones + robots, addrs):   # the simulator lists copters first, then rovers
                ports[v["id"]] = addr
        for v in self.scenario.vehicles:
            state = self.folder / "agents" / v["id"]
            state.mkdir(parents=True, exist_ok=True)
            await self._register_agent_key(v["id"], state / "outbox.key")   # the agent's default key file
            agent = self.children.add(Child(f"agent-{v['id']}", [
                *FLEET, "agent", "--vehicle-id", v["id"], "--vehicle-type", v["type"],
                "--mavlink", f"tcp:{ports[v['id']]}", "--mqtt", self.mqtt_url,
                "--max-payload-kg", str(v["payload_kg"]), "--battery-wh", str(v["battery_wh"]),
                "--wh-per-km", str(v["wh_per_km"]), "--telemetry-hz", "1",
                "--gc-public-key", str(self.folder / "gc-public.pem"),
                "--outbox", str(state / "outbox.db")], self.folder / f"agent-{v['id']}.log"))
            agent.start()
            self.agents[v["id"]] = agent

    async def _register_agent_key(self, vehicle_id: str, key_file: Path) -> None:
        """Create the agent's key pair where the agent will find it and register its public half."""
        key, _ = load_or_create(key_file)
        async with httpx.AsyncClient(base_url=self.api_url, timeout=10, headers=self.api_headers) as api:
            r = await api.put(f"/vehicles/{vehicle_id}/public-key", json={"public_key": public_pem(key)})
            r.raise_for_status()

    @staticmethod
    async def _sim_addresses(sim: Child, n: int, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = SIM_LINE.findall(sim.log_path.read_text(errors="replace"))
            if len(found) >= n:
                return [addr for _kind, addr in found[:n]]
            if not sim.alive:
                break
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{sim.name} did not list {n} vehicles; see {sim.log_path}")

    # ---- supervision -------------------------------------------------------------------------
    async def watchdog(self) -> None:
        """Restart whatever died on its own (and say so in the timeline)."""
        while True:
            await asyncio.sleep(1.0)
            for child in [self.broker, self.gc, *self.sims, *self.agents.values()]:
                if child is None or child.alive or child.name in self.down:
                    continue
                rc = child.proc.returncode if child.proc else None
                self.note(f"{child.name} exited on its own (rc={rc}); restarting it")
                child.start()
                if child is self.broker:
                    await asyncio.to_thread(self.wait_broker)

    def stop(self) -> None:
        """Ground control first, so the agents' last wills at shutdown change nothing."""
        self.down.update(c.name for c in [self.broker, self.gc, *self.sims, *self.agents.values()] if c)
        self.children.stop_all(first=[c for c in (self.gc,) if c])

    def broker_errors(self) -> list[str]:
        log = self.folder / "broker" / "mosquitto.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return [line for line in text.splitlines() if "error" in line.lower()]

    def info(self) -> dict[str, Any]:
        return {"broker": self.mqtt_url, "broker_errors": len(self.broker_errors()), "api": self.api_url, "database": self.db.kind,
                "restarts": {c.name: c.starts - 1 for c in [self.broker, self.gc, *self.agents.values()]
                             if c and c.starts > 1}}
