#!/usr/bin/env python3
"""Telemetry ingest with several ground-control replicas on MQTT v5 shared subscriptions: does
ingest keep up with what a bare subscriber receives, and does aggregate throughput grow with
replicas? Every figure beside its ceiling in the same run.

    .venv/bin/python benchmarks/ingest_replicas.py --replicas 1,2,1,2 --vehicles 500 --seconds 8

For each entry of ``--replicas`` (run one after the other on the same broker and database):
N ingest replicas, each its own process running ground control's real path (MqttLink + Ingest:
parse_message, batch buffer, latest-position upsert and telemetry history insert into PostgreSQL)
subscribed as ``$share/<group>/lmf/v1/vehicle/+/telemetry``; publishers as in
``benchmarks/ingest.py`` (500 vehicles, as fast as the broker takes them); and a bare aiomqtt
subscriber in its own process on the plain topic: the ceiling (what one subscriber can receive).
A private Mosquitto, a PostgreSQL database of its own.

Figures per run: ``bare_rate`` (msg/s the bare subscriber received), ``ingest_rate`` (msg/s the
replicas stored together), ``ingest_vs_bare``, ``per_replica`` rates, and the CPU time per
message of each (``bare_cpu_us_per_msg``, ``ingest_cpu_us_per_msg``; ``ingest_per_core_vs_bare``
= their ratio: the fraction of the bare rate one replica sustains per core, steady on a loaded
machine where wall-clock rates are not). The last stdout line is
one JSON object with every run and ``growth`` = mean aggregate ingest rate with the largest N
divided by the mean with N=1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from ingest import _pg_create, _pg_drop, _publisher  # noqa: E402

GROUP = "gc-bench"


def _bare(host: str, port: int, prefix: str, ready: "mp.Event", out: "mp.Queue[dict]", stop_after: float) -> None:
    """The ceiling: a bare aiomqtt subscriber on the plain topic, counting this run's messages
    and the CPU time it spent between the first and the last."""
    import aiomqtt

    async def main() -> dict:
        c = {"n": 0, "first": 0.0, "last": 0.0, "cpu0": 0.0, "cpu1": 0.0}
        async with aiomqtt.Client(host, port, identifier=f"bench-bare-{uuid.uuid4().hex[:8]}") as client:
            await client.subscribe("lmf/v1/vehicle/+/telemetry", qos=0)
            ready.set()

            async def consume() -> None:
                async for m in client.messages:
                    if str(m.topic).split("/")[3].startswith(prefix):
                        now = time.time()
                        if not c["n"]:
                            c["first"], c["cpu0"] = now, time.process_time()
                        c["n"] += 1
                        c["last"], c["cpu1"] = now, time.process_time()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(consume(), stop_after)
        return c

    out.put(asyncio.run(main()))


def _replica(db_url: str, broker_url: str, name: str, prefix: str, ready: "mp.Event", stop_at: float,
             out: "mp.Queue[dict]", history: bool = True) -> None:
    """One replica's ingest, counting this run's telemetry (the handler returns after buffering;
    the flusher writes every telemetry_flush_interval_s)."""
    from ground_control.db.session import make_engine, make_sessionmaker
    from ground_control.ingest.service import Ingest, subscriptions
    from ground_control.mqtt.link import MqttLink
    from ground_control.settings import Settings

    async def main() -> dict:
        s = Settings(database_url=db_url, mqtt_url=broker_url, mqtt_protocol="5", mqtt_shared_group=GROUP,
                     mqtt_client_id=name, telemetry_history=history)
        engine = make_engine(db_url)
        ingest = Ingest(s, make_sessionmaker(engine))
        c = {"n": 0, "first": 0.0, "last": 0.0, "cpu0": 0.0, "cpu1": 0.0}
        inner = ingest.handle

        async def handle(msg) -> None:  # type: ignore[no-untyped-def]
            await inner(msg)
            if str(msg.topic).split("/")[3].startswith(prefix):
                now = time.time()
                if not c["n"]:
                    c["first"], c["cpu0"] = now, time.process_time()
                c["n"] += 1
                c["last"], c["cpu1"] = now, time.process_time()

        telemetry = [t for t in subscriptions(s) if t[0].endswith("/telemetry")]
        link = MqttLink(s, handle, telemetry, persistent=False)
        tasks = [asyncio.create_task(link.run()), asyncio.create_task(ingest.flush_loop())]
        await asyncio.wait_for(link.connected.wait(), 15)
        ready.set()
        await asyncio.sleep(max(0.0, stop_at - time.time()))
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await ingest.telemetry.flush()
        await engine.dispose()
        return {"name": name, **c, "written": ingest.telemetry.written}

    out.put(asyncio.run(main()))


def _rate(n: int, a: float, b: float) -> float:
    return n / (b - a) if n > 1 and b > a else 0.0


async def one_run(db_url: str, broker_url: str, host: str, port: int, replicas: int, args: argparse.Namespace) -> dict:
    ctx = mp.get_context("spawn")
    prefix = f"r{uuid.uuid4().hex[:6]}"
    ids = [f"{prefix}-{i:04d}" for i in range(args.vehicles)]
    total_s = args.seconds + 20
    stop_at = time.time() + 15 + total_s
    rq: mp.Queue = ctx.Queue()
    readies = [ctx.Event() for _ in range(replicas)]
    procs = [ctx.Process(target=_replica, args=(db_url, broker_url, f"gc-bench-{prefix}-{i}", prefix, readies[i], stop_at, rq,
                                                  not args.no_history))
             for i in range(replicas)]
    for p in procs:
        p.start()
    for e in readies:
        await asyncio.to_thread(e.wait, 30)
    bq: mp.Queue = ctx.Queue()
    bready = ctx.Event()
    bare = ctx.Process(target=_bare, args=(host, port, prefix, bready, bq, args.seconds + 12))
    bare.start()
    await asyncio.to_thread(bready.wait, 15)
    start_at = time.time() + 3.0
    pq: mp.Queue = ctx.Queue()
    chunks = [ids[k::args.processes] for k in range(args.processes)]
    pubs = [ctx.Process(target=_publisher, args=(host, port, ch, args.clients, args.seconds, start_at, pq)) for ch in chunks]
    for p in pubs:
        p.start()
    for p in pubs:
        await asyncio.to_thread(p.join, args.seconds + 60)
    published = sum(pq.get() for _ in pubs)
    b = await asyncio.to_thread(bq.get, True, 60)
    bare_n, bare_first, bare_last = b["n"], b["first"], b["last"]
    results = [await asyncio.to_thread(rq.get, True, total_s + 60) for _ in procs]
    for p in [bare, *procs]:
        await asyncio.to_thread(p.join, 30)
    n = sum(r["n"] for r in results)
    first = min(r["first"] for r in results if r["n"]) if n else 0.0
    last = max(r["last"] for r in results) if n else 0.0
    bare_rate, ingest_rate = _rate(bare_n, bare_first, bare_last), _rate(n, first, last)
    # CPU per message: far steadier than wall-clock rates on a shared machine; its inverse is
    # what one core can take (the flusher's database work after the last message is not in it)
    bare_us = 1e6 * (b["cpu1"] - b["cpu0"]) / max(bare_n - 1, 1)
    ingest_us = 1e6 * sum(r["cpu1"] - r["cpu0"] for r in results) / max(n - len(results), 1)
    return {
        "replicas": replicas, "published": published, "publish_rate": round(published / args.seconds, 1),
        "bare_received": bare_n, "bare_rate": round(bare_rate, 1),
        "ingest_received": n, "ingest_rate": round(ingest_rate, 1),
        "ingest_vs_bare": round(ingest_rate / bare_rate, 3) if bare_rate else None,
        "bare_cpu_us_per_msg": round(bare_us, 1), "ingest_cpu_us_per_msg": round(ingest_us, 1),
        "ingest_per_core_vs_bare": round(bare_us / ingest_us, 3) if ingest_us else None,
        "per_replica": [{"received": r["n"], "rate": round(_rate(r["n"], r["first"], r["last"]), 1),
                         "rows_written": r["written"]} for r in results],
    }


async def main_async(args: argparse.Namespace) -> dict:
    from ground_control.embedded.broker import start_mosquitto

    broker = start_mosquitto()
    db_url = await _pg_create()
    if db_url is None:
        broker.stop()
        raise SystemExit("ingest_replicas needs PostgreSQL on 127.0.0.1:5432")
    from ground_control.db.migrate import upgrade

    await asyncio.to_thread(upgrade, db_url)
    runs = []
    try:
        for n in args.replica_list:
            print(f"[{n} replica(s)] {args.vehicles} vehicles, {args.seconds:.0f} s ...", file=sys.stderr, flush=True)
            r = await one_run(db_url, broker.url, broker.host, broker.port, n, args)
            print(f"  bare {r['bare_rate']}/s ({r['bare_cpu_us_per_msg']} us CPU/msg); ingest {r['ingest_rate']}/s "
                  f"({r['ingest_vs_bare']}; {r['ingest_cpu_us_per_msg']} us CPU/msg); "
                  f"per replica {[p['rate'] for p in r['per_replica']]}", file=sys.stderr, flush=True)
            runs.append(r)
    finally:
        await _pg_drop(db_url)
        broker.stop()
    by_n: dict[int, list[float]] = {}
    for r in runs:
        by_n.setdefault(r["replicas"], []).append(r["ingest_rate"])
    top = max(by_n)
    growth = (statistics.mean(by_n[top]) / statistics.mean(by_n[1])) if 1 in by_n and top != 1 and statistics.mean(by_n[1]) else None
    return {"benchmark": "ingest_replicas", "telemetry_history": not args.no_history, "vehicles": args.vehicles, "seconds": args.seconds, "cpus": os.cpu_count(),
            "broker": "mosquitto (private)", "database": "postgresql", "runs": runs,
            "mean_ingest_rate": {str(k): round(statistics.mean(v), 1) for k, v in sorted(by_n.items())},
            "mean_ingest_vs_bare": {str(k): round(statistics.mean([r["ingest_vs_bare"] or 0 for r in runs if r["replicas"] == k]), 3)
                                    for k in sorted(by_n)},
            "mean_ingest_per_core_vs_bare": round(statistics.mean([r["ingest_per_core_vs_bare"] or 0 for r in runs]), 3),
            "growth": round(growth, 2) if growth else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", default="1,2,1,2", help="replica counts, run in this order")
    ap.add_argument("--vehicles", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--processes", type=int, default=2, help="publisher processes")
    ap.add_argument("--clients", type=int, default=5, help="MQTT clients per publisher process")
    ap.add_argument("--no-history", action="store_true", help="latest position only (what the history insert costs)")
    args = ap.parse_args()
    args.replica_list = [int(x) for x in args.replicas.split(",") if x.strip()]
    print(json.dumps(asyncio.run(main_async(args))), flush=True)


if __name__ == "__main__":
    main()
