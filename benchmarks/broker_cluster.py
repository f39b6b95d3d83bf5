#!/usr/bin/env python3
"""The delivery demo on a three-node NATS cluster (MQTT + JetStream), once undisturbed (the
baseline) and once with the node every client is connected to killed (SIGKILL) as soon as a
parcel is aboard. One JSON line per run: delivered, lost, wall time, delivery times, events the
agents published against events ground control stored, and MQTT reconnects.

    .venv/bin/python benchmarks/broker_cluster.py --drones 3 --robots 2 --parcels 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# benchmarks/vrplib.py would shadow the vrplib package PyVRP imports: keep this folder off the path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from ground_control.demo.runner import DemoOptions, run_demo  # noqa: E402
from ground_control.embedded.nats_cluster import nats_binary  # noqa: E402


async def one(args: argparse.Namespace, kill: bool) -> dict:
    result = await run_demo(DemoOptions(drones=args.drones, robots=args.robots, parcels=args.parcels,
                                        speedup=args.speedup, planner=args.planner, broker="nats-cluster",
                                        kill_broker_node=kill))
    out = result.as_json()
    times = sorted(out["delivery_s"].values())
    return {"run": "node_killed" if kill else "baseline", "broker": "nats-cluster x3",
            "parcels": out["parcels"], "delivered": out["delivered"], "lost": out["lost"],
            "timed_out": out["timed_out"], "wall_s": out["wall_s"],
            "delivery_s_median": round(statistics.median(times), 1) if times else None,
            "delivery_s_max": times[-1] if times else None,
            "events_published": out["events_published"], "events_stored": out["events"],
            "dead_letters": out["dead_letters"], "node_killed_at_s": out["broker_node_killed_at_s"],
            "reconnects": out["reconnects"]}


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--drones", type=int, default=3)
    ap.add_argument("--robots", type=int, default=2)
    ap.add_argument("--parcels", type=int, default=20)
    ap.add_argument("--speedup", type=float, default=20.0)
    ap.add_argument("--planner", choices=["greedy", "pyvrp"], default="pyvrp")
    args = ap.parse_args()
    if nats_binary() is None:
        print("broker_cluster.py needs nats-server (Debian: apt-get install nats-server)", file=sys.stderr)
        return 2
    for name in ("edge_agent", "ground_control", "sitl", "httpx", "uvicorn", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ok = True
    for kill in (False, True):
        line = await one(args, kill)
        print(json.dumps(line), flush=True)
        ok &= line["lost"] == 0 and not line["timed_out"] and line["events_stored"] == line["events_published"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
