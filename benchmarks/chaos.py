#!/usr/bin/env python3
"""Does the fleet keep working when something goes wrong? Rounds of a real delivery with one fault
injected mid-delivery each, every parcel checked against an independent recording of the broker.

    .venv/bin/python benchmarks/chaos.py --rounds 6 --parcels 20

Each round runs everything as real processes on 127.0.0.1 (a private Mosquitto with persistence,
``fleet serve`` on its own PostgreSQL database, or SQLite when PostgreSQL is not reachable,
``fleet sim`` and one ``fleet agent`` per vehicle), seeds the demo city through the API, and once
the first parcel is in transit injects the round's fault at a seeded moment: ``gc_kill9``,
``agent_kill9``, ``broker_restart`` (SIGTERM), ``broker_kill9``, ``db_outage`` (15-20 s),
``telemetry_poison``, ``gc_restart_graceful``, ``event_poison``; faults cycle through the rounds.
The round ends when every parcel is terminal and every vehicle idle, or at its deadline; then
ground control's account of each parcel (API) is judged against the recorder's
(``chaoslib/verdict.py`` says how). Diagnostics go to stderr; the last stdout line is one JSON
object: rounds, faults, parcels, delivered, failed, lost, stranded, delivered_twice, unfinished,
waiting, and one entry per round. Exit code 0 only if lost, stranded and delivered_twice are 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:           # chaoslib sits next to this script, already on the path
    sys.path.insert(0, str(ROOT))

from chaoslib.database import postgres_reachable  # noqa: E402
from chaoslib.faults import DEFAULT_CYCLE, FAULTS  # noqa: E402
from chaoslib.round import RoundConfig, RoundResult, log, run_round  # noqa: E402
from chaoslib.verdict import OUTCOMES  # noqa: E402

MUST_BE_ZERO = ("lost", "stranded", "delivered_twice")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--parcels", type=int, default=20, help="per round")
    ap.add_argument("--drones", type=int, default=3)
    ap.add_argument("--robots", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--faults", default=",".join(DEFAULT_CYCLE),
                    help=f"comma-separated, cycled through the rounds (default: all, {','.join(DEFAULT_CYCLE)})")
    ap.add_argument("--speedup", type=float, default=20.0, help="simulated time runs this many times faster")
    ap.add_argument("--round-timeout", type=float, default=None,
                    help="seconds from the parcels' creation to the round's verdict (default: scaled to the work)")
    ap.add_argument("--database", choices=["auto", "postgres", "sqlite"], default="auto",
                    help="auto: PostgreSQL on 127.0.0.1:5432 when reachable, else SQLite")
    ap.add_argument("--keep", action="store_true", help="keep the logs, recordings and API snapshots")
    args = ap.parse_args(argv)
    args.fault_list = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in args.fault_list if f not in FAULTS]
    if unknown or not args.fault_list:
        ap.error(f"unknown faults {unknown}; choose from {', '.join(FAULTS)}")
    if args.rounds < 1 or args.parcels < 1 or args.drones + args.robots < 1:
        ap.error("need at least one round, one parcel and one vehicle")
    return args


def round_timeout(args: argparse.Namespace) -> float:
    """Enough for the work at this speed-up plus the fault's recovery (silence and ack timeouts)."""
    if args.round_timeout:
        return args.round_timeout
    per_vehicle = args.parcels / (args.drones + args.robots)
    return 150 + 25 * per_vehicle * 20 / args.speedup


def summary(args: argparse.Namespace, results: list[RoundResult], database: str, wall_s: float) -> dict:
    keys = ("parcels", *OUTCOMES, "delivered_twice", "carried_twice", "events_missed_by_gc", "events_missed_by_recorder")
    total = {k: sum(r.counts.get(k, 0) for r in results) for k in keys}
    return {"rounds": len(results), "faults": [r.fault for r in results], **total,
            "database": database, "seed": args.seed, "speedup": args.speedup,
            "vehicles": {"drones": args.drones, "robots": args.robots}, "wall_s": round(wall_s, 1),
            "per_round": [r.as_json() for r in results]}


async def main_async(args: argparse.Namespace, base: Path) -> tuple[list[RoundResult], str]:
    database = args.database
    if database == "auto":
        database = "postgres" if postgres_reachable() else "sqlite"
    timeout = round_timeout(args)
    log(f"chaos: {args.rounds} rounds x {args.parcels} parcels, {args.drones} drones + {args.robots} robots, "
        f"database {database}, speed-up {args.speedup}, round deadline {timeout:.0f} s, logs in {base}")
    results = []
    for i in range(args.rounds):
        fault = args.fault_list[i % len(args.fault_list)]
        log(f"round {i + 1}/{args.rounds}: {fault}")
        cfg = RoundConfig(index=i + 1, fault=fault, parcels=args.parcels, drones=args.drones, robots=args.robots,
                          seed=args.seed, speedup=args.speedup, database=database,
                          folder=base / f"round-{i + 1}-{fault}", timeout_s=timeout, keep=args.keep)
        results.append(await run_round(cfg))
    return results, database


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="lmf-chaos-"))
    # SIGTERM unwinds like Ctrl-C, so every child, the database and the folder are cleaned up
    signal.signal(signal.SIGTERM, _interrupt)
    t0 = time.time()
    try:
        results, database = asyncio.run(main_async(args, base))
    except KeyboardInterrupt:
        log("chaos: interrupted; every child process stopped, the round's database dropped")
        return 130
    finally:
        if args.keep:
            log(f"chaos: logs kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    out = summary(args, results, database, time.time() - t0)
    print(json.dumps(out), flush=True)
    return 0 if all(out[k] == 0 for k in MUST_BE_ZERO) else 1


if __name__ == "__main__":
    sys.exit(main())
