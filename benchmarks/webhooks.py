"""Webhook delivery throughput and latency, against a bare HTTP POST rate to the same receiver.

    .venv/bin/python benchmarks/webhooks.py                       # SQLite
    .venv/bin/python benchmarks/webhooks.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

The receiver is a separate process (uvicorn, one worker) that answers 200 and records when each
event id arrived. Prints JSON lines:

- ``baseline``: N signed POSTs straight from httpx with the worker's concurrency (webhooks_batch),
  no database: the ceiling for this receiver on this machine.
- ``backlog``: N events already in the outbox (one parcel each, then ``--per-parcel`` events on
  fewer parcels, where per-parcel order limits parallelism), delivered by the worker: events/s
  and the ratio to the mean of the baselines measured before and after.
- ``trickle``: events committed one transaction at a time at ``--rate`` per second: latency from
  the commit to the receiver (p50/p95/p99), the figure an integrator feels.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

# --------------------------------------------------------------------------- receiver process
ARRIVALS: dict[str, float] = {}


async def receiver_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A minimal ASGI receiver: POST records the event id's arrival (wall clock); GET returns all."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        msg = await receive()
        more = msg.get("more_body", False)
    if scope["method"] == "POST":
        headers = dict(scope["headers"])
        eid = headers.get(b"x-fleet-event-id", b"").decode()
        ARRIVALS.setdefault(eid, time.time())
        body = b""
    elif scope["path"] == "/reset":
        ARRIVALS.clear()
        body = b"{}"
    else:
        body = json.dumps(ARRIVALS).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def serve(port: int) -> None:
    import uvicorn
    uvicorn.run("webhooks:receiver_app", host="127.0.0.1", port=port, log_level="error",
                app_dir=str(Path(__file__).parent), access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- measurements
def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


async def baseline(url: str, n: int, concurrency: int) -> dict[str, Any]:
    from ground_control.webhooks.signer import header_value, new_secret

    secret = new_secret()
    async with httpx.AsyncClient(timeout=10) as client:
        await client.get(url.replace("/hook", "/reset"))
        t0 = time.perf_counter()
        for start in range(0, n, concurrency):
            async def one(i: int) -> None:
                body = json.dumps({"id": str(uuid.uuid4()), "type": "parcel.created", "n": i}).encode()
                r = await client.post(url, content=body, headers={
                    "X-Fleet-Event-Id": str(uuid.uuid4()), "X-Fleet-Signature": header_value(secret, int(time.time()), body)})
                r.raise_for_status()
            await asyncio.gather(*(one(i) for i in range(start, min(n, start + concurrency))))
        dt = time.perf_counter() - t0
    return {"bench": "webhooks", "case": "baseline", "events": n, "concurrency": concurrency,
            "seconds": round(dt, 3), "events_per_s": round(n / dt, 1)}


async def arrivals(url: str) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=30) as client:
        return (await client.get(url.replace("/hook", "/arrivals"))).json()


async def stage_backlog(sm: Any, n: int, per_parcel: int) -> list[str]:
    from ground_control.webhooks.outbox import stage

    ids = []
    async with sm() as s:
        for i in range(n):
            row = stage(s, "parcel.created", f"bp-{i // per_parcel}", "hub", {"n": i})
            ids.append(row.id)
        await s.commit()
    return ids


async def run(args: argparse.Namespace) -> None:
    from ground_control.db.migrate import upgrade
    from ground_control.db.models import WebhookDelivery, WebhookEvent
    from ground_control.db.session import make_engine, make_sessionmaker
    from ground_control.settings import Settings
    from ground_control.webhooks import subscriptions
    from ground_control.webhooks.worker import DeliveryWorker
    from sqlalchemy import delete, func, select

    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    tmp = tempfile.mkdtemp(prefix="lmf-bench-wh-")
    pg_name = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        if args.postgres:
            import asyncpg
            from sqlalchemy.engine import make_url

            base = make_url(args.postgres)
            pg_name = "lmf_bench_wh_" + uuid.uuid4().hex[:8]
            conn = await asyncpg.connect(base.set(drivername="postgresql").render_as_string(hide_password=False))
            await conn.execute(f'CREATE DATABASE "{pg_name}"')
            await conn.close()
            db_url = base.set(database=pg_name).render_as_string(hide_password=False)
        else:
            db_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        backend = "postgresql" if args.postgres else "sqlite"
        settings = Settings(database_url=db_url, mqtt_enabled=False, webhooks_allow_private=True,
                            webhooks_batch=args.concurrency)
        await asyncio.to_thread(upgrade, settings.database_url)
        engine = make_engine(settings.database_url)
        sm = make_sessionmaker(engine)
        async with sm() as s:
            subscriptions.create(s, url, ["parcel.created"], None, "bench")
            await s.commit()

        # the baseline before and after the backlog cases: the machine's load moves both
        base = await baseline(url, args.events, args.concurrency)
        print(json.dumps({**base, "backend": backend, "when": "before"}), flush=True)
        backlog_lines = []

        for per_parcel in (1, args.per_parcel):
            async with sm() as s:
                await s.execute(delete(WebhookDelivery))
                await s.execute(delete(WebhookEvent))
                await s.commit()
            async with httpx.AsyncClient() as c:
                await c.get(url.replace("/hook", "/reset"))
            ids = await stage_backlog(sm, args.events, per_parcel)
            worker = DeliveryWorker(settings, sm)
            t0 = time.perf_counter()
            task = asyncio.create_task(worker.run())
            while True:
                async with sm() as s:
                    left = await s.scalar(select(func.count()).select_from(WebhookDelivery)
                                          .where(WebhookDelivery.state != "delivered"))
                    unfanned = await s.scalar(select(func.count()).select_from(WebhookEvent)
                                              .where(WebhookEvent.fanned_out.is_(False)))
                if not left and not unfanned:
                    break
                await asyncio.sleep(0.05)
            dt = time.perf_counter() - t0
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            got = await arrivals(url)
            backlog_lines.append({"bench": "webhooks", "case": "backlog", "backend": backend, "events": len(ids),
                                  "events_per_parcel": per_parcel, "delivered": sum(1 for i in ids if i in got),
                                  "seconds": round(dt, 3), "events_per_s": round(len(ids) / dt, 1)})
        after = await baseline(url, args.events, args.concurrency)
        print(json.dumps({**after, "backend": backend, "when": "after"}), flush=True)
        ceiling = (base["events_per_s"] + after["events_per_s"]) / 2
        for line in backlog_lines:
            print(json.dumps({**line, "vs_baseline": round(line["events_per_s"] / ceiling, 3)}), flush=True)

        # trickle: one commit per event at --rate/s, the worker running (woken on commit)
        async with httpx.AsyncClient() as c:
            await c.get(url.replace("/hook", "/reset"))
        worker = DeliveryWorker(settings, sm)
        task = asyncio.create_task(worker.run())
        committed: dict[str, float] = {}
        from ground_control.webhooks.outbox import stage
        n = int(args.rate * args.seconds)
        t_next = time.perf_counter()
        for i in range(n):
            async with sm() as s:
                row = stage(s, "parcel.created", f"tp-{i}", "hub", {"n": i})
                await s.commit()
                committed[row.id] = time.time()
            t_next += 1.0 / args.rate
            await asyncio.sleep(max(0.0, t_next - time.perf_counter()))
        deadline = time.monotonic() + 60
        got: dict[str, float] = {}
        while time.monotonic() < deadline:
            got = await arrivals(url)
            if all(k in got for k in committed):
                break
            await asyncio.sleep(0.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        lat = [(got[k] - t) * 1000 for k, t in committed.items() if k in got]
        print(json.dumps({"bench": "webhooks", "case": "trickle", "backend": backend, "rate_per_s": args.rate,
                          "events": n, "delivered": len(lat), "latency_ms_p50": round(pct(lat, 50), 1),
                          "latency_ms_p95": round(pct(lat, 95), 1), "latency_ms_p99": round(pct(lat, 99), 1),
                          "latency_ms_mean": round(statistics.fmean(lat), 1) if lat else None}), flush=True)
        await engine.dispose()
    finally:
        proc.terminate()
        proc.wait(10)
        if pg_name:
            import asyncpg
            from sqlalchemy.engine import make_url

            conn = await asyncpg.connect(make_url(args.postgres).set(drivername="postgresql")
                                         .render_as_string(hide_password=False))
            await conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--per-parcel", type=int, default=20, help="events per parcel in the ordered backlog case")
    ap.add_argument("--concurrency", type=int, default=50, help="webhooks_batch, and the baseline's")
    ap.add_argument("--rate", type=float, default=20.0, help="trickle: events committed per second")
    ap.add_argument("--seconds", type=float, default=10.0, help="trickle duration")
    ap.add_argument("--postgres", default=None, help="run on a throwaway database on this server")
    ap.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return
    os.environ.setdefault("PYTHONHASHSEED", "0")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
