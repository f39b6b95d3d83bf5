"""The simulated vehicles of a scenario and their edge agents, wired as an operator would: one
simulator per vehicle, agents that pin ground control's public key, and each agent's own public
key registered with its vehicle (docs/security.md, "Signed messages"). Shared by ``fleet demo``
and ``benchmarks/eta_accuracy.py``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from fleet_protocol.signing import public_pem
from ground_control.demo.scenario import Scenario

if TYPE_CHECKING:   # the vehicle side: imported when used, only the demo and benchmarks need it
    from edge_agent.agent import Agent
    from sitl import SimFleet


async def start_sim_fleet(scenario: Scenario, speedup: float) -> tuple["SimFleet", list[dict[str, Any]]]:
    """The scenario's vehicles in the simulator, drones first (SimFleet numbers copters first,
    then rovers); returns the fleet and the vehicles in the simulator's order."""
    from sitl import SimFleet

    drones = [v for v in scenario.vehicles if v["type"] == "drone"]
    robots = [v for v in scenario.vehicles if v["type"] == "robot"]
    ordered = drones + robots
    fleet = SimFleet(copters=len(drones), rovers=len(robots), speedup=speedup, base_port=0,
                     homes=[scenario.homes[v["id"]] for v in ordered])
    await asyncio.to_thread(fleet.start)
    return fleet, ordered


async def enrolled_agent(api: httpx.AsyncClient, vehicle: dict[str, Any], mavlink_port: int, mqtt_url: str,
                         gc_public: str, workdir: Path, telemetry_hz: float) -> "Agent":
    """An agent for ``vehicle`` that trusts ``gc_public``, with its key registered through the API."""
    from edge_agent.agent import Agent

    agent = Agent(vehicle_id=vehicle["id"], mavlink_url=f"tcp:127.0.0.1:{mavlink_port}", mqtt_url=mqtt_url,
                  vehicle_type=vehicle["type"], max_payload_kg=vehicle["payload_kg"],
                  battery_wh=vehicle["battery_wh"], wh_per_km=vehicle["wh_per_km"], telemetry_hz=telemetry_hz,
                  outbox_path=str(workdir / f"{vehicle['id']}-outbox.db"), gc_public_keys=(gc_public,))
    r = await api.put(f"/vehicles/{vehicle['id']}/public-key", json={"public_key": public_pem(agent.signing_key)})
    r.raise_for_status()
    return agent
