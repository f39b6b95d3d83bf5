"""Ground-control ingest and API benchmark, each figure beside its ceiling in the same run.

1. Telemetry ingest: 500 simulated vehicles (publisher processes x async clients, each client
   publishing valid telemetry envelopes for many vehicle ids as fast as the broker takes them)
   -> the real broker -> ground control's ingest (MqttLink + Ingest: parse_message, batch
   buffer, upsert into the DB). Beside it, in the same run, a bare aiomqtt subscriber in its own
   process counts what the broker delivers: the ceiling.
2. Parcel creation latency: POST /parcels from N concurrent clients against ``uvicorn`` in a
   subprocess, on SQLite and (if reachable) PostgreSQL. p50/p99.

    .venv/bin/python benchmarks/ingest.py [--vehicles 500] [--seconds 8] [--parcels 1000]

Prints human text, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ground_control.embedded.broker import ensure_broker, free_port, port_open  # noqa: E402

PG_BASE = os.environ.get("FLEET_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


# --------------------------------------------------------------------------- publishers
def _publisher(host: str, port: int, vehicle_ids: list[str], clients: int, seconds: float, start_at: float,
               out: "mp.Queue[int]") -> None:
    import aiomqtt

    from fleet_protocol import LatLon, Telemetry, encode, make_envelope, topics

    def payloads(vid: str) -> list[bytes]:
        # valid, distinct envelopes (fresh ids, rising seq); pre-encoded so the publisher is cheap
        return [encode(make_envelope("telemetry", vid, Telemetry(
            position=LatLon(lat=52.5 + i * 1e-5, lon=13.4), heading_deg=90, ground_speed_mps=10,
            battery_pct=80 - i * 0.1, mode="AUTO", armed=True, gps_fix=3, agent_state="flying"), seq=i))
            for i in range(20)]

    async def client(ids: list[str]) -> int:
        pool = {vid: payloads(vid) for vid in ids}
        sent = 0
        quiet = logging.getLogger("bench-publisher")   # aiomqtt warns about many pending publishes
        quiet.setLevel(logging.ERROR)
        async with aiomqtt.Client(host, port, identifier=f"bench-pub-{uuid.uuid4().hex[:8]}", logger=quiet) as c:
            while time.time() < start_at:
                await asyncio.sleep(0.01)
            end = start_at + seconds
            i = 0
            while time.time() < end:
                # one round = one sample per vehicle, published concurrently (an awaited
                # publish per message would measure the event loop's round trip instead)
                await asyncio.gather(*(c.publish(topics.telemetry(vid), pool[vid][i % 20], qos=0) for vid in ids))
                sent += len(ids)
                i += 1
        return sent

    async def main() -> int:
        chunks = [vehicle_ids[k::clients] for k in range(clients)]
        return sum(await asyncio.gather(*(client(ch) for ch in chunks if ch)))

    out.put(asyncio.run(main()))


def _bare_subscriber(host: str, port: int, prefix: str, ready: "mp.Event", out: "mp.Queue[tuple[int, float, float]]",
                     stop_after: float) -> None:
    import aiomqtt

    async def main() -> tuple[int, float, float]:
        n, first, last = 0, 0.0, 0.0
        async with aiomqtt.Client(host, port, identifier=f"bench-bare-{uuid.uuid4().hex[:8]}") as c:
            await c.subscribe("lmf/v1/vehicle/+/telemetry", qos=0)
            ready.set()
            deadline = time.time() + stop_after
            async def consume() -> None:
                nonlocal n, first, last
                async for m in c.messages:
                    if str(m.topic).split("/")[3].startswith(prefix):
                        now = time.time()
                        if n == 0:
                            first = now
                        n += 1
                        last = now
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(consume(), max(1.0, deadline - time.time()))
        return n, first, last

    out.put(asyncio.run(main()))


# --------------------------------------------------------------------------- ingest
async def _ingest_run(db_url: str, broker_url: str, vehicles: int, seconds: float, processes: int,
                      clients_per_process: int) -> dict:
    from sqlalchemy import func, select

    from ground_control.db.migrate import upgrade
    from ground_control.db.models import TelemetryLatest
    from ground_control.db.session import make_engine, make_sessionmaker
    from ground_control.ingest.service import Ingest
    from ground_control.mqtt.link import MqttLink
    from ground_control.settings import Settings

    await asyncio.to_thread(upgrade, db_url)
    engine = make_engine(db_url)
    settings = Settings(database_url=db_url, mqtt_url=broker_url, mqtt_client_id=f"bench-gc-{uuid.uuid4().hex[:8]}")
    ingest = Ingest(settings, make_sessionmaker(engine))
    prefix = f"b{uuid.uuid4().hex[:6]}"
    ids = [f"{prefix}-{i:04d}" for i in range(vehicles)]
    counted = {"n": 0, "first": 0.0, "last": 0.0}
    inner = ingest.handle

    async def handle(msg):   # count this run's messages only (the shared broker may carry others')
        await inner(msg)
        if str(msg.topic).split("/")[3].startswith(prefix):
            now = time.time()
            if counted["n"] == 0:
                counted["first"] = now
            counted["n"] += 1
            counted["last"] = now

    link = MqttLink(settings, handle, [("lmf/v1/vehicle/+/telemetry", 0)], persistent=False)
    tasks = [asyncio.create_task(link.run()), asyncio.create_task(ingest.flush_loop())]
    await asyncio.wait_for(link.connected.wait(), 10)

    ctx = mp.get_context("spawn")
    host, port = settings.mqtt_host, settings.mqtt_port
    q: mp.Queue = ctx.Queue()
    bare_q: mp.Queue = ctx.Queue()
    ready = ctx.Event()
    bare = ctx.Process(target=_bare_subscriber, args=(host, port, prefix, ready, bare_q, seconds + 12))
    bare.start()
    await asyncio.to_thread(ready.wait, 15)
    start_at = time.time() + 3.0     # publishers build their payloads first
    chunks = [ids[k::processes] for k in range(processes)]
    pubs = [ctx.Process(target=_publisher, args=(host, port, ch, clients_per_process, seconds, start_at, q)) for ch in chunks]
    for p in pubs:
        p.start()
    for p in pubs:
        await asyncio.to_thread(p.join, seconds + 60)
    published = sum(q.get() for _ in pubs)
    await asyncio.sleep(2.0)          # drain
    bare_n, bare_first, bare_last = await asyncio.to_thread(bare_q.get, True, 30)
    await asyncio.to_thread(bare.join, 30)
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
    await ingest.telemetry.flush()
    async with ingest.sessionmaker() as s:
        rows = await s.scalar(select(func.count()).select_from(TelemetryLatest).where(TelemetryLatest.vehicle_id.like(f"{prefix}-%")))
    await engine.dispose()

    def rate(n: int, a: float, b: float) -> float:
        return n / (b - a) if n > 1 and b > a else 0.0

    return {
        "published": published,
        "publish_rate": round(published / seconds, 1),
        "bare_received": bare_n,
        "bare_rate": round(rate(bare_n, bare_first, bare_last), 1),
        "ingest_received": counted["n"],
        "ingest_rate": round(rate(counted["n"], counted["first"], counted["last"]), 1),
        "ingest_vs_bare": round(rate(counted["n"], counted["first"], counted["last"]) / max(1e-9, rate(bare_n, bare_first, bare_last)), 3),
        "db_rows_written": ingest.telemetry.written,
        "vehicles_in_db": rows,
    }


async def _handle_capacity(db_url: str, vehicles: int, messages: int) -> dict:
    """The ingest code path alone (parse_message, buffer, batched upserts), fed pre-built
    messages in-process: how far ingest could go if the broker and publishers were free."""
    import aiomqtt

    from fleet_protocol import LatLon, Telemetry, encode, make_envelope, topics
    from ground_control.db.migrate import upgrade
    from ground_control.db.session import make_engine, make_sessionmaker
    from ground_control.ingest.service import Ingest
    from ground_control.settings import Settings

    await asyncio.to_thread(upgrade, db_url)
    engine = make_engine(db_url)
    ingest = Ingest(Settings(database_url=db_url), make_sessionmaker(engine))
    msgs = []
    for i in range(messages):
        vid = f"cap-{i % vehicles:04d}"
        body = Telemetry(position=LatLon(lat=52.5, lon=13.4), heading_deg=90, ground_speed_mps=10, battery_pct=80,
                         mode="AUTO", armed=True, gps_fix=3, agent_state="flying")
        msgs.append(aiomqtt.Message(topics.telemetry(vid), encode(make_envelope("telemetry", vid, body, seq=i)), 0, False, 0, None))
    flusher = asyncio.create_task(ingest.flush_loop())
    t0 = time.perf_counter()
    for k, m in enumerate(msgs):
        await ingest.handle(m)
        if k % 200 == 0:
            await asyncio.sleep(0)   # as the MQTT loop would yield, so the flusher runs
    await ingest.telemetry.flush()
    wall = time.perf_counter() - t0
    flusher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await flusher
    await engine.dispose()
    return {"messages": messages, "rate": round(messages / wall, 1), "db_rows_written": ingest.telemetry.written}


# --------------------------------------------------------------------------- API latency
async def _api_latency(db_url: str, parcels: int, concurrency: int) -> dict:
    import httpx

    port = free_port()
    from ground_control.auth.bootstrap import bearer, new_bootstrap_key

    key = new_bootstrap_key()   # the server's admin key (FLEET_BOOTSTRAP_API_KEY): the API needs a credential
    env = {**os.environ, "FLEET_DATABASE_URL": db_url, "FLEET_MQTT_ENABLED": "false", "PYTHONPATH": str(ROOT),
           "FLEET_BOOTSTRAP_API_KEY": key}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "ground_control.api.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, cwd=str(ROOT))
    try:
        deadline = time.time() + 30
        while not port_open("127.0.0.1", port):
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("uvicorn did not start")
            await asyncio.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=bearer(key)) as c:
            r = await c.post("/hubs", json={"id": "bench-hub", "lat": 52.52, "lon": 13.405})
            assert r.status_code in (201, 409), r.text
        lat: list[float] = []
        errors = 0
        counter = iter(range(parcels))

        async def worker() -> None:
            nonlocal errors
            async with httpx.AsyncClient(base_url=base, timeout=30, headers=bearer(key)) as c:
                for i in counter:
                    body = {"id": f"bp-{i}-{uuid.uuid4().hex[:6]}", "weight_kg": 1.0, "size": "small", "hub_id": "bench-hub",
                            "lat": 52.52 + (i % 100) * 1e-4, "lon": 13.405, "recipient": {"name": "B", "phone": "+4930123456"}}
                    t0 = time.perf_counter()
                    r = await c.post("/parcels", json=body)
                    lat.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 201:
                        errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
        lat.sort()
        return {
            "requests": len(lat), "errors": errors, "concurrency": concurrency,
            "p50_ms": round(statistics.median(lat), 2), "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 2),
            "throughput_rps": round(len(lat) / wall, 1),
        }
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


# --------------------------------------------------------------------------- databases
async def _pg_create() -> str | None:
    from sqlalchemy.engine import make_url

    u = make_url(PG_BASE)
    if not port_open(u.host or "127.0.0.1", u.port or 5432):
        return None
    import asyncpg

    name = "bench_" + uuid.uuid4().hex[:10]
    conn = await asyncpg.connect(u.set(drivername="postgresql").render_as_string(hide_password=False))
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return u.set(database=name).render_as_string(hide_password=False)


async def _pg_drop(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(PG_BASE)
    conn = await asyncpg.connect(u.set(drivername="postgresql").render_as_string(hide_password=False))
    await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    await conn.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--broker", default=os.environ.get("FLEET_MQTT_URL", "mqtt://127.0.0.1:1883"))
    ap.add_argument("--vehicles", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--clients", type=int, default=5, help="MQTT clients per publisher process")
    ap.add_argument("--parcels", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()

    broker = ensure_broker(args.broker)
    result: dict = {"benchmark": "ground_control_ingest", "broker": broker.kind, "vehicles": args.vehicles,
                    "seconds": args.seconds, "publisher_processes": args.processes,
                    "clients_per_process": args.clients, "cpus": os.cpu_count()}
    tmp = Path(tempfile.mkdtemp(prefix="lmf-bench-"))
    pg = None if args.skip_postgres else await _pg_create()
    try:
        backends = {"sqlite": f"sqlite+aiosqlite:///{tmp}/ingest.db"}
        if pg:
            backends["postgres"] = pg
        for name, url in backends.items():
            print(f"[{name}] telemetry ingest: {args.vehicles} vehicles, {args.seconds:.0f}s ...", flush=True)
            r = await _ingest_run(url, broker.url, args.vehicles, args.seconds, args.processes, args.clients)
            result[f"ingest_{name}"] = r
            cap = await _handle_capacity(url, args.vehicles, 20_000)
            result[f"ingest_{name}"]["handle_capacity_rate"] = cap["rate"]
            print(f"  ingest code path alone (no broker): {cap['rate']}/s", flush=True)
            print(f"  published {r['published']} ({r['publish_rate']}/s); bare subscriber {r['bare_rate']}/s; "
                  f"ground-control ingest {r['ingest_rate']}/s ({r['ingest_vs_bare']:.0%} of bare); "
                  f"{r['db_rows_written']} upserts, {r['vehicles_in_db']} vehicles in DB", flush=True)
        api_backends = {"sqlite": f"sqlite+aiosqlite:///{tmp}/api.db"}
        if pg:
            api_backends["postgres"] = pg
        for name, url in api_backends.items():
            print(f"[{name}] POST /parcels x{args.parcels}, {args.concurrency} concurrent clients ...", flush=True)
            r = await _api_latency(url, args.parcels, args.concurrency)
            result[f"post_parcels_{name}"] = r
            print(f"  p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, {r['throughput_rps']} req/s, errors {r['errors']}", flush=True)
    finally:
        if pg:
            await _pg_drop(pg)
        broker.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
