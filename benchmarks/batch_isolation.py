"""What one refused row costs a telemetry flush: time to upsert N vehicles' latest telemetry
with no bad row, and with one row the database refuses (its gps_fix overflows the column), so
the batch is split down to that row (ground_control/ingest/batches.py).

    .venv/bin/python benchmarks/batch_isolation.py [--vehicles 500] [--rounds 20] [--postgres URL]

Prints one JSON line: median flush milliseconds per case and database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import datetime, timezone

from ground_control.db.migrate import upgrade
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.ingest.telemetry import TelemetryBuffer


def row(vid: str, i: int, bad: bool) -> dict:
    now = datetime.now(timezone.utc)
    return {"vehicle_id": vid, "lat": 52.5, "lon": 13.4, "alt_m": 40.0, "heading_deg": 90.0,
            "ground_speed_mps": 10.0, "battery_pct": 80.0, "mode": "AUTO", "armed": True,
            "gps_fix": 2**70 if bad else 3, "agent_state": "in_flight", "mission_id": None,
            "ts": now, "received_at": now, "raw": b""}


async def measure(url: str, vehicles: int, rounds: int) -> dict[str, float]:
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    refused: list[str] = []

    async def on_refused(r, _exc):
        refused.append(r["vehicle_id"])

    buf = TelemetryBuffer(make_sessionmaker(engine), on_refused=on_refused)
    out: dict[str, float] = {}
    for case, bad in (("clean_ms", None), ("one_refused_ms", vehicles // 3)):
        times = []
        for r in range(rounds):
            for i in range(vehicles):
                buf.add(row(f"v{i}", r, i == bad))
            t0 = time.perf_counter()
            await buf.flush()
            times.append((time.perf_counter() - t0) * 1000)
        out[case] = round(statistics.median(times), 1)
    out["refused_rows"] = len(refused) / rounds
    await engine.dispose()
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vehicles", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--postgres", help="an empty PostgreSQL database URL (postgresql+asyncpg://...)")
    a = ap.parse_args()
    result: dict[str, object] = {"vehicles": a.vehicles, "rounds": a.rounds}
    with tempfile.TemporaryDirectory() as d:
        result["sqlite"] = await measure(f"sqlite+aiosqlite:///{d}/bench.db", a.vehicles, a.rounds)
    if a.postgres:
        result["postgres"] = await measure(a.postgres, a.vehicles, a.rounds)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
