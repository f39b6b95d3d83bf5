"""Does a re-plan keep its wall-clock budget at 1,000 and 2,000 parcels?

The re-planner (``planning/replan.py``) answers within ``budget_s`` (default 2 s), geometry
included. One JSON line per parcel count and mode: ``cold`` (a fresh process's first re-plan:
the travel costs are built inside the budget), ``warm`` (dispatch's case between rounds: the
planner's ``CostCache`` already holds the parcels' travel costs). ``wall_s`` against
``budget_s`` (``within_budget``), and as the same-run baseline the travel-cost build alone
(``geometry_s``), which is what a cold re-plan cannot avoid.

Scenario: one hub, 20 drones (2 failed, half the others with two committed stops), 2 no-fly
zones, parcels spread over 3 km (as ``tests/planning/test_replan.py``, scaled up).

    .venv/bin/python benchmarks/replan_budget.py --parcels 1000,2000 --budget 2
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

# benchmarks/vrplib.py would shadow the vrplib package PyVRP imports: keep this folder off the path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from ground_control.planning.cost_cache import CostCache  # noqa: E402
from ground_control.planning.costs import build_costs  # noqa: E402
from ground_control.planning.geometry import Projection  # noqa: E402
from ground_control.planning.model import (  # noqa: E402
    GeofenceSpec, HubSpec, ParcelSpec, PlanRequest, Point, VehicleKind, VehicleSpec,
)
from ground_control.planning.replan import Replanner  # noqa: E402

_PROJ = Projection(Point(lat=52.0, lon=4.0))


def at(x: float, y: float) -> Point:
    return _PROJ.to_points([[x, y]])[0]


def square(cx: float, cy: float, half: float) -> tuple[Point, ...]:
    return tuple(at(cx + dx, cy + dy) for dx, dy in
                 ((-half, -half), (half, -half), (half, half), (-half, half)))


def scenario(n: int) -> PlanRequest:
    parcels = tuple(ParcelSpec(parcel_id=f"p{i}", hub_id="H",
                               drop_off=at(3000 * math.cos(i * 2.4),
                                           3000 * math.sin(i * 1.7) * (i % 7) / 7),
                               weight_kg=0.5 + (i % 4) * 0.5) for i in range(n))
    failed = {"d3", "d5"}
    vehicles = tuple(VehicleSpec(vehicle_id=f"d{k}", kind=VehicleKind.drone, hub_id="H",
                                 payload_kg=6.0, battery_wh=25 * 10 / 0.8, wh_per_km=10.0,
                                 speed_mps=10.0, available=f"d{k}" not in failed)
                     for k in range(20))
    committed = {f"d{k}": (f"p{2 * k}", f"p{2 * k + 1}") for k in range(0, 20, 2)}
    fence = GeofenceSpec(inclusion=square(0, 0, 5000),
                         exclusions=(square(1500, 1500, 200), square(-1200, 400, 150)))
    return PlanRequest(hubs=(HubSpec("H", at(0, 0)),), vehicles=vehicles, parcels=parcels,
                       committed=committed, geofence=fence)


def run(n: int, budget: float, seed: int) -> list[dict]:
    req = scenario(n)
    t0 = time.perf_counter()
    build_costs(req)
    geometry = time.perf_counter() - t0
    out = []
    cache = CostCache()
    for mode in ("cold", "warm"):       # cold fills the cache the warm run uses
        planner = Replanner(budget_s=budget, seed=seed, cache=cache)
        t0 = time.perf_counter()
        plan = planner.plan(req)
        wall = time.perf_counter() - t0
        out.append({"parcels": n, "mode": mode, "budget_s": budget, "wall_s": round(wall, 3),
                    "within_budget": wall <= budget, "over_s": round(max(0.0, wall - budget), 3),
                    "geometry_s": round(geometry, 3),
                    "served": sum(len(r.stops) for r in plan.routes),
                    "unplanned": len(plan.unplanned)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parcels", default="1000,2000")
    ap.add_argument("--budget", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for n in (int(x) for x in args.parcels.split(",")):
        for line in run(n, args.budget, args.seed):
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    sys.exit(main())
