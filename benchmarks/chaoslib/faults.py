"""The faults a chaos round injects mid-delivery. Each takes the running fleet, the digested
recording so far and the round's seeded random source, does its damage, brings the part back as
its service manager would, and returns a line for the timeline."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import datetime, timezone
from typing import Awaitable, Callable

import paho.mqtt.client as mqtt

from chaoslib.fleet import Fleet
from chaoslib.procs import Child
from chaoslib.verdict import Traffic

Fault = Callable[[Fleet, Traffic, random.Random], Awaitable[str]]


async def _down_then_up(fleet: Fleet, child: Child, how: str, down_s: float) -> None:
    fleet.down.add(child.name)
    try:
        if how == "kill9":
            child.kill9()
        else:
            await asyncio.to_thread(child.stop, 30)
        fleet.note(f"{child.name} {'killed (SIGKILL)' if how == 'kill9' else 'stopped (SIGTERM)'}, "
                   f"back in {down_s:.1f} s")
        await asyncio.sleep(down_s)
        child.start()
        if child is fleet.broker:
            await asyncio.to_thread(fleet.wait_broker)
    finally:
        fleet.down.discard(child.name)
    fleet.note(f"{child.name} started again")


async def gc_kill9(fleet: Fleet, _tr: Traffic, rng: random.Random) -> str:
    assert fleet.gc is not None
    await _down_then_up(fleet, fleet.gc, "kill9", rng.uniform(2, 8))
    await fleet.wait_gc()
    return "ground control kill -9, restarted"


async def gc_restart_graceful(fleet: Fleet, _tr: Traffic, rng: random.Random) -> str:
    assert fleet.gc is not None
    await _down_then_up(fleet, fleet.gc, "term", rng.uniform(1, 4))
    await fleet.wait_gc()
    return "ground control SIGTERM, restarted"


def _busy_vehicles(fleet: Fleet, tr: Traffic) -> list[str]:
    """Vehicles whose latest telemetry shows them on a mission (sorted, for a seeded choice)."""
    return sorted(v for v, (_t, state, mission) in tr.telemetry.items()
                  if mission and state != "idle" and v in fleet.agents)


async def agent_kill9(fleet: Fleet, tr: Traffic, rng: random.Random) -> str:
    vehicle = rng.choice(_busy_vehicles(fleet, tr) or sorted(fleet.agents))
    state = tr.telemetry.get(vehicle, (0, "?", None))
    await _down_then_up(fleet, fleet.agents[vehicle], "kill9", rng.uniform(2, 5))
    return f"agent of {vehicle} kill -9 while {state[1]} on {state[2]}, restarted with the same state folder"


async def broker_restart(fleet: Fleet, _tr: Traffic, rng: random.Random) -> str:
    assert fleet.broker is not None
    await _down_then_up(fleet, fleet.broker, "term", rng.uniform(1, 4))
    return "mosquitto SIGTERM (persistence saved), restarted"


async def broker_kill9(fleet: Fleet, _tr: Traffic, rng: random.Random) -> str:
    assert fleet.broker is not None
    await _down_then_up(fleet, fleet.broker, "kill9", rng.uniform(1, 4))
    return "mosquitto kill -9 (persistence as of its last autosave, 10 s), restarted"


async def db_outage(fleet: Fleet, _tr: Traffic, rng: random.Random) -> str:
    seconds = rng.uniform(15, 20)
    fleet.note(f"database outage begins ({seconds:.0f} s)")
    done = await fleet.db.outage(seconds)
    fleet.note("database back")
    return done


async def _publish(fleet: Fleet, topic: str, payloads: list[str], qos: int, interval_s: float = 0.0) -> None:
    """Publish as a client of its own (what a compromised or buggy vehicle could send)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"chaos-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", fleet.broker_port)
    client.loop_start()
    try:
        for payload in payloads:
            info = client.publish(topic, payload, qos=qos)
            await asyncio.to_thread(info.wait_for_publish, 10)
            await asyncio.sleep(interval_s)
    finally:
        client.disconnect()
        client.loop_stop()


def _envelope(kind: str, vehicle: str, body: dict, seq: int) -> str:
    return json.dumps({"v": 1, "type": kind, "id": str(uuid.uuid4()), "vehicle_id": vehicle,
                       "ts": datetime.now(timezone.utc).isoformat(), "seq": seq, "body": body})


async def telemetry_poison(fleet: Fleet, tr: Traffic, rng: random.Random) -> str:
    """A vehicle (its own topic, as its credentials allow) sends telemetry that passes the
    protocol but not every database: NUL characters in the free-text fields, ten a second (so
    one lands in every telemetry batch ground control writes) for 30 s, longer than its
    telemetry silence timeout (20 s here)."""
    vehicle = rng.choice(_busy_vehicles(fleet, tr) or sorted(fleet.agents))
    body = {"position": {"lat": 52.37, "lon": 4.89, "alt_m": 30.0}, "heading_deg": 0, "ground_speed_mps": 5,
            "battery_pct": 80, "battery_v": 16, "mode": "AUTO\u0000", "armed": True, "gps_fix": 3,
            "agent_state": "in_flight\u0000"}
    payloads = [_envelope("telemetry", vehicle, body, 10**6 + i) for i in range(300)]
    await _publish(fleet, f"lmf/v1/vehicle/{vehicle}/telemetry", payloads, qos=0, interval_s=0.1)
    return f"300 telemetry messages (10/s for 30 s) with NUL in mode/agent_state on {vehicle}'s topic"


async def event_poison(fleet: Fleet, tr: Traffic, rng: random.Random) -> str:
    """A vehicle sends a protocol-valid event whose ``seq`` no 32-bit column holds."""
    vehicle = rng.choice(sorted(fleet.agents))
    body = {"kind": "failsafe", "reason": "chaos", "action": "none", "detail": "seq out of int32 range"}
    await _publish(fleet, f"lmf/v1/vehicle/{vehicle}/event", [_envelope("event", vehicle, body, 2**31)], qos=1)
    return f"one event with seq 2^31 on {vehicle}'s topic"


FAULTS: dict[str, Fault] = {
    "gc_kill9": gc_kill9,
    "agent_kill9": agent_kill9,
    "broker_restart": broker_restart,
    "broker_kill9": broker_kill9,
    "db_outage": db_outage,
    "telemetry_poison": telemetry_poison,
    "gc_restart_graceful": gc_restart_graceful,
    "event_poison": event_poison,
}
#: the cycle when --faults is not given: the five the issue asks for, then the extras
DEFAULT_CYCLE = list(FAULTS)

