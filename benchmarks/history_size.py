#!/usr/bin/env python3
"""Disk per telemetry sample on PostgreSQL: fills a fresh database's partitioned
``telemetry_history`` with N realistic rows (200 vehicles) and prints one JSON line with the bytes
per row, table and index together, for sizing the history's retention (docs/operations.md).

    .venv/bin/python benchmarks/history_size.py --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# benchmarks/vrplib.py would shadow the vrplib package PyVRP imports: keep this folder off the path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import asyncpg  # noqa: E402

from ground_control.db.migrate import upgrade  # noqa: E402


async def measure(admin_url: str, rows: int) -> dict:
    name = "lmf_history_size_" + uuid.uuid4().hex[:8]
    base = admin_url.rsplit("/", 1)[0]
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        await asyncio.to_thread(upgrade, f"postgresql+asyncpg://{base.split('://', 1)[1]}/{name}")
        c = await asyncpg.connect(f"{base}/{name}")
        try:
            await c.execute("""
                INSERT INTO telemetry_history (vehicle_id, received_at, ts, lat, lon, alt_m, heading_deg,
                    ground_speed_mps, battery_pct, mode, agent_state, mission_id)
                SELECT 'drone-' || (i % 200), now() - (i || ' ms')::interval, now() - (i || ' ms')::interval,
                       52.5 + random() / 100, 13.4 + random() / 100, 60, random() * 360, 12, 80 * random(),
                       'AUTO', 'in_flight', 'mission-' || (i % 500) || '-0123456789abcdef'
                FROM generate_series(1, $1) AS i""", rows)
            await c.execute("ANALYZE")
            size = await c.fetchval("""SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0)
                                       FROM pg_inherits WHERE inhparent = 'telemetry_history'::regclass""")
            size = int(size) or int(await c.fetchval("SELECT pg_total_relation_size('telemetry_history')"))
        finally:
            await c.close()
    finally:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()
    per_row = size / rows
    return {"rows": rows, "bytes": size, "bytes_per_row": round(per_row, 1),
            "mb_per_vehicle_day_at_1hz": round(per_row * 86_400 / 1e6, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                    help="a database to connect to while creating (and dropping) a fresh one")
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(measure(args.postgres, args.rows))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
