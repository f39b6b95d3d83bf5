#!/usr/bin/env python3
"""Webhook retention on PostgreSQL: fills a fresh database with N finished deliveries past
retention (each with its event and one attempt) beside P pending ones of the same age, runs the
retention job (ground_control.webhooks.retention.purge) and prints one JSON line: seconds and
rows per second for the purge, whether every pending row stayed, and, as the baseline, the same
job once more with nothing left to delete (what every later run costs).

    .venv/bin/python benchmarks/webhook_retention.py --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# benchmarks/vrplib.py would shadow the vrplib package PyVRP imports: keep this folder off the path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import asyncpg  # noqa: E402

from ground_control.db.migrate import upgrade  # noqa: E402
from ground_control.db.models import utcnow  # noqa: E402
from ground_control.db.session import make_engine, make_sessionmaker  # noqa: E402
from ground_control.webhooks.retention import purge  # noqa: E402

FILL = """
INSERT INTO webhook_subscriptions (id, url, event_types, hub_id, description, secret, enabled,
    consecutive_failures, created_at, updated_at)
VALUES ('wh_bench', 'https://example.invalid/hook', '["parcel.created"]', NULL, '', 'x', true, 0,
        now() - interval '90 days', now() - interval '90 days');
INSERT INTO webhook_events (id, type, parcel_id, hub_id, data, created_at, fanned_out)
SELECT gen_random_uuid()::text, 'parcel.created', 'p-' || i, 'hub-1',
       json_build_object('parcel_id', 'p-' || i, 'state', 'created', 'hub_id', 'hub-1'),
       now() - interval '40 days', true
FROM generate_series(1, $1::int + $2::int) AS i;
INSERT INTO webhook_deliveries (subscription_id, event_seq, parcel_id, state, attempts, next_attempt_at,
    delivered_at, created_at)
SELECT 'wh_bench', seq, parcel_id, CASE WHEN seq <= $1::int THEN 'delivered' ELSE 'pending' END, 1,
       created_at, CASE WHEN seq <= $1::int THEN created_at END, created_at
FROM webhook_events;
INSERT INTO webhook_attempts (delivery_id, at, status_code, error, latency_ms)
SELECT id, created_at, 200, NULL, 12.5 FROM webhook_deliveries;
ANALYZE;
"""


async def measure(admin_url: str, rows: int, pending: int, keep_days: int) -> dict:
    name = "lmf_webhook_retention_" + uuid.uuid4().hex[:8]
    base = admin_url.rsplit("/", 1)[0]
    url = f"postgresql+asyncpg://{base.split('://', 1)[1]}/{name}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        await asyncio.to_thread(upgrade, url)
        c = await asyncpg.connect(f"{base}/{name}")
        try:
            for statement in filter(str.strip, FILL.split(";")):
                args = [a for i, a in enumerate((rows, pending), 1) if f"${i}" in statement]
                await c.execute(statement, *args)
        finally:
            await c.close()
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as s:
                t0 = time.perf_counter()
                counts = await purge(s, utcnow(), keep_days)
                purge_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                idle = await purge(s, utcnow(), keep_days)
                idle_s = time.perf_counter() - t0
            async with engine.connect() as conn:
                left = (await conn.exec_driver_sql(
                    "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'")).scalar()
        finally:
            await engine.dispose()
    finally:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()
    deleted = sum(counts.values())
    return {"finished_rows": rows, "pending_rows": pending, "deleted": counts, "purge_s": round(purge_s, 3),
            "rows_per_s": round(deleted / purge_s), "pending_kept": left == pending,
            "baseline_idle_run_s": round(idle_s, 4), "idle_deleted": sum(idle.values())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                    help="a database to connect to while creating (and dropping) a fresh one")
    ap.add_argument("--rows", type=int, default=100_000, help="finished deliveries past retention")
    ap.add_argument("--pending", type=int, default=10_000, help="pending deliveries of the same age")
    ap.add_argument("--keep-days", type=int, default=30)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(measure(args.postgres, args.rows, args.pending, args.keep_days))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
