#!/usr/bin/env python3
"""How many edge agents does one machine carry? N simulated vehicles, N agents, one broker.

    python benchmarks/sim_scale.py --vehicles 200 --telemetry-hz 2 --seconds 30

* the simulator (``sitl.fleet.SimFleet``, all vehicles in one process, real time),
* N :class:`edge_agent.agent.Agent` instances spread over ``--workers`` processes (default: one
  per core), each process running its agents in ONE asyncio loop,
* a subscriber counting the telemetry messages that arrive on ``lmf/v1/vehicle/+/telemetry``.

It prints one JSON line: telemetry messages/s delivered (and the ratio to N x Hz), the agents'
CPU (psutil user+system time of the worker processes over the window, per vehicle and in total,
in % of one core) and unique memory (USS, per vehicle and in total), the simulator's CPU and
memory, and the baseline measured in the same run: a bare publisher blasting QoS 0 messages of
the same size through the same broker to a bare subscriber (the broker + client-library ceiling
on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---- processes -----------------------------------------------------------------------------
def raise_open_file_limit() -> None:
    """1,000 vehicles are 1,000 MAVLink sockets in the simulator and as many MAVLink and MQTT
    sockets across the agent workers: more than a default soft limit of 1,024 descriptors."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def ready_timeout(agents: int) -> float:
    """How long a worker waits for its agents to connect before it reports how many did: a
    thousand agents on two busy cores need minutes, not the 60 s that 200 need."""
    return max(60.0, 0.3 * agents)


def sim_process(n: int, ports_q: "mp.Queue[list[int]]", stop: "mp.synchronize.Event") -> None:
    raise_open_file_limit()
    from sitl.fleet import SimFleet

    with SimFleet(copters=n, home=(52.37, 4.89), speedup=1.0, base_port=0) as fleet:
        ports_q.put([v.port for v in fleet.vehicles])
        stop.wait()


def agent_worker(ports: list[int], ids: list[str], mqtt_url: str, hz: float, outdir: str,
                 ready_q: "mp.Queue[int]", stats_q: "mp.Queue[dict]", stop: "mp.synchronize.Event") -> None:
    logging.basicConfig(level=logging.WARNING)
    raise_open_file_limit()
    from edge_agent.agent import Agent
    from fleet_keys.keyfile import load_or_create
    from fleet_protocol.signing import public_pem

    # the missions are signed with this run's ground-control key (send_missions): pin it
    gc_public = public_pem(load_or_create(os.path.join(outdir, "gc-signing.key"))[0])

    async def main() -> None:
        # the --fly missions carry two parcels: one release servo each (one gripper = one parcel)
        agents = [Agent(vehicle_id=vid, mavlink_url=f"tcp:127.0.0.1:{p}", mqtt_url=mqtt_url, telemetry_hz=hz,
                        outbox_path=os.path.join(outdir, f"{vid}.db"), release_servos=(10, 11),
                        gc_public_keys=(gc_public,))
                  for vid, p in zip(ids, ports)]
        tasks = []
        for a in agents:  # stagger the connects a little
            tasks.append(asyncio.create_task(a.run()))
            await asyncio.sleep(0.005)
        deadline = time.monotonic() + ready_timeout(len(agents))
        while time.monotonic() < deadline and not all(a.mqtt.connected.is_set() and a.mav.state.connected for a in agents):
            await asyncio.sleep(0.2)
        ready_q.put(sum(a.mqtt.connected.is_set() and a.mav.state.connected for a in agents))
        while not stop.is_set():
            await asyncio.sleep(0.2)
        stats_q.put({"telemetry_sent": sum(a.mqtt.telemetry_sent for a in agents)})
        for a in agents:
            a.stop()
        t_stop = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
        except asyncio.TimeoutError:
            print(f"worker: agents did not stop within {time.monotonic() - t_stop:.0f} s", file=sys.stderr)

    asyncio.run(main())


def blaster(host: str, port: int, topic: str, payload: bytes, seconds: float) -> None:
    import aiomqtt

    async def main() -> None:
        async with aiomqtt.Client(host, port, max_queued_outgoing_messages=10_000) as c:
            end = time.monotonic() + seconds
            i = 0
            while time.monotonic() < end:
                await c.publish(topic, payload, qos=0)
                i += 1
                if i % 200 == 0:
                    await asyncio.sleep(0)

    asyncio.run(main())


def c_clients_baseline(host: str, port: int, topic: str, size: int, seconds: float) -> int | None:
    """The same blast with mosquitto_pub -l / mosquitto_sub (C clients), if installed: the
    broker's own ceiling, without Python on either end. Returns messages received in ``seconds``."""
    import shutil
    import subprocess
    import threading

    pub, sub = shutil.which("mosquitto_pub"), shutil.which("mosquitto_sub")
    if not (pub and sub):
        return None
    s = subprocess.Popen([sub, "-h", host, "-p", str(port), "-t", topic, "-q", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    p = subprocess.Popen([pub, "-h", host, "-p", str(port), "-t", topic, "-q", "0", "-l"],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    counted = [0]
    stop = threading.Event()

    def read() -> None:
        assert s.stdout is not None
        while not stop.is_set():
            chunk = s.stdout.read1(1 << 16)
            if not chunk:
                return
            counted[0] += chunk.count(b"\n")

    def write() -> None:
        assert p.stdin is not None
        block = (b"x" * (size - 1) + b"\n") * 500
        try:
            while not stop.is_set():
                p.stdin.write(block)
                p.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    threading.Thread(target=read, daemon=True).start()
    threading.Thread(target=write, daemon=True).start()
    time.sleep(1.0)  # ramp up
    c0 = counted[0]
    time.sleep(seconds)
    c1 = counted[0]
    stop.set()
    p.kill()
    s.kill()
    return c1 - c0


# ---- measuring -------------------------------------------------------------------------------
async def count_messages(host: str, port: int, topic_filter: str, start_in: float, seconds: float,
                         topic_contains: str = "") -> tuple[int, int]:
    """Messages (and the size of the last one) arriving during [start_in, start_in + seconds)."""
    import aiomqtt

    n = size = 0
    async with aiomqtt.Client(host, port) as c:
        await c.subscribe(topic_filter, qos=0)
        t0 = time.monotonic() + start_in
        t1 = t0 + seconds

        async def consume() -> None:
            nonlocal n, size
            async for m in c.messages:
                now = time.monotonic()
                if now >= t1:
                    return
                if now >= t0 and topic_contains in str(m.topic):
                    n += 1
                    size = len(m.payload)

        try:
            await asyncio.wait_for(consume(), start_in + seconds + 5)
        except asyncio.TimeoutError:
            pass
    return n, size


async def send_missions(host: str, port: int, ids: list[str], outdir: str) -> None:
    """One two-stop drone mission per vehicle (long enough to still be flying in the window),
    signed with the run's ground-control key in ``outdir``."""
    import aiomqtt

    from fleet_keys.keyfile import load_or_create
    from fleet_protocol import Mission, make_envelope, topics
    from fleet_protocol.signing import sign_envelope

    key = load_or_create(os.path.join(outdir, "gc-signing.key"))[0]

    lat, lon = 52.37, 4.89
    d = lambda n, e: {"lat": lat + n / 111_195.0, "lon": lon + e / 67_870.0}  # noqa: E731
    async with aiomqtt.Client(host, port) as c:
        for vid in ids:
            m = Mission.model_validate({
                "mission_id": f"m-{vid}", "vehicle_id": vid, "vehicle_type": "drone",
                "hub": {"hub_id": "h", "position": {"lat": lat, "lon": lon}},
                "stops": [{"parcel_id": "p1", "drop_off": d(1500, 0), "action": "release"},
                          {"parcel_id": "p2", "drop_off": d(1500, 1500), "action": "release"}],
                "geofence": {"inclusion": {"vertices": [d(-3000, -3000), d(-3000, 3000), d(3000, 3000), d(3000, -3000)]}},
                "cruise_alt_m": 30, "drop_alt_m": 5, "cruise_speed_mps": 10,
            })
            await c.publish(topics.mission(vid), sign_envelope(make_envelope("mission", vid, m), key, ttl_s=600), qos=1)


async def count_flying(host: str, port: int, run_id: str) -> dict[str, int]:
    """Agents per state, from their last telemetry."""
    import aiomqtt

    states: dict[str, str] = {}
    async with aiomqtt.Client(host, port) as c:
        await c.subscribe("lmf/v1/vehicle/+/telemetry", qos=0)
        try:
            async with asyncio.timeout(2.0):
                async for m in c.messages:
                    if f"/bench{run_id}-" in str(m.topic):
                        states[str(m.topic)] = json.loads(m.payload)["body"]["agent_state"]
        except TimeoutError:
            pass
    from collections import Counter

    return dict(Counter(states.values()))


def cpu_seconds(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


def memory_mib(pids: list[int]) -> float:
    """Unique memory (USS: what the processes would give back if they ended), in MiB."""
    import psutil

    total = 0
    for pid in pids:
        proc = psutil.Process(pid)
        try:
            total += proc.memory_full_info().uss
        except (psutil.AccessDenied, AttributeError):
            total += proc.memory_info().rss
    return total / 2**20


def run(args: argparse.Namespace) -> dict:
    from urllib.parse import urlparse

    host, port = urlparse(args.mqtt).hostname or "127.0.0.1", urlparse(args.mqtt).port or 1883
    n, hz, secs = args.vehicles, args.telemetry_hz, args.seconds
    workers = max(1, min(args.workers or os.cpu_count() or 1, n))
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    ports_q, ready_q, stats_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
    sim = ctx.Process(target=sim_process, args=(n, ports_q, stop), daemon=True)
    sim.start()
    ports = ports_q.get(timeout=60)
    run_id = os.urandom(3).hex()
    ids = [f"bench{run_id}-{i:04d}" for i in range(n)]
    outdir = tempfile.mkdtemp(prefix="lmf-bench-")
    procs = []
    for w in range(workers):
        sl = slice(w, None, workers)
        p = ctx.Process(target=agent_worker, args=(ports[sl], ids[sl], args.mqtt, hz, outdir, ready_q, stats_q, stop), daemon=True)
        p.start()
        procs.append(p)
    ready = sum(ready_q.get(timeout=ready_timeout(n) + 120) for _ in procs)
    if args.fly:
        asyncio.run(send_missions(host, port, ids, outdir))
    time.sleep(args.warmup)

    cpu0, sim0, t0 = cpu_seconds([p.pid for p in procs]), cpu_seconds([sim.pid]), time.monotonic()
    count, size = asyncio.run(count_messages(host, port, "lmf/v1/vehicle/+/telemetry", 0.0, secs,
                                             topic_contains=f"/bench{run_id}-"))
    flying = asyncio.run(count_flying(host, port, run_id)) if args.fly else None
    window = time.monotonic() - t0
    cpu1, sim1 = cpu_seconds([p.pid for p in procs]), cpu_seconds([sim.pid])
    agent_mib, sim_mib = memory_mib([p.pid for p in procs]), memory_mib([sim.pid])
    stop.set()
    sent = sum(stats_q.get(timeout=60)["telemetry_sent"] for _ in procs)
    for p in procs:
        p.join(30)
    sim.join(15)

    # baseline: a bare publisher blasting same-size QoS 0 messages through the same broker
    payload = b"x" * (size or 400)
    btopic = f"lmf/v1/bench-baseline/{run_id}"
    bl = ctx.Process(target=blaster, args=(host, port, btopic, payload, args.baseline_seconds + 1.5), daemon=True)
    bl.start()
    bcount, _ = asyncio.run(count_messages(host, port, btopic, 1.0, args.baseline_seconds))
    bl.join(10)
    ccount = c_clients_baseline(host, port, btopic + "/c", len(payload), args.baseline_seconds)

    agent_cpu = (cpu1 - cpu0) / window * 100
    return {
        "vehicles": n, "agents_ready": ready, "worker_processes": workers, "telemetry_hz": hz,
        "seconds": secs, "cpu_window_s": round(window, 1), "expected_msg_per_s": n * hz,
        "delivered_msg_per_s": round(count / secs, 1), "delivery_ratio": round(count / secs / (n * hz), 3),
        "telemetry_payload_bytes": size, "agent_telemetry_sent_total": sent,
        "agent_cpu_total_pct_of_core": round(agent_cpu, 1), "agent_cpu_per_vehicle_pct_of_core": round(agent_cpu / n, 3),
        "sim_cpu_pct_of_core": round((sim1 - sim0) / window * 100, 1), "cpu_cores": os.cpu_count(),
        "agent_memory_total_mib": round(agent_mib, 1), "agent_memory_per_vehicle_mib": round(agent_mib / n, 2),
        "sim_memory_mib": round(sim_mib, 1),
        "baseline_broker_msg_per_s": round(bcount / args.baseline_seconds, 1), "baseline_payload_bytes": len(payload),
        "baseline_clients": "python aiomqtt publisher -> python aiomqtt subscriber",
        "baseline_c_clients_msg_per_s": None if ccount is None else round(ccount / args.baseline_seconds, 1),
        "missions": bool(args.fly), "agent_states_at_end": flying,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vehicles", type=int, default=50)
    ap.add_argument("--telemetry-hz", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=0, help="agent processes (default: one per core)")
    ap.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    ap.add_argument("--fly", action="store_true",
                    help="give every vehicle a delivery mission first, so the window measures agents in flight")
    ap.add_argument("--baseline-seconds", type=float, default=5.0)
    print(json.dumps(run(ap.parse_args())), flush=True)


if __name__ == "__main__":
    main()
