"""How soon customers get their parcels: the distance-only objective (``distance``, what the
planner minimised before) against the money-and-time objective (``time``: per-km, per-hour and
per-trip prices per vehicle kind plus each parcel-minute of waiting), same request, same run.

One JSON line per scenario and objective: ``last_drop_min`` and ``mean_delivery_min`` (minutes
from the plan's start to the drops), ``distance_km``, ``vehicles_used``, plus the parcels left
out and the exact waiting cost. Scenarios:

* ``idle_drones``: 8 light parcels 0.6-1.1 km from one hub, 3 drones (one gripper) and 2 robots
  idle.
* ``city``: 2 hubs 3 km apart, 20 drones, 10 robots, 12 no-fly zones, 160 parcels up to 3 km
  from their hub (some too heavy for a drone).

    .venv/bin/python benchmarks/delivery_time.py --seconds 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import sys
from pathlib import Path

# benchmarks/vrplib.py would shadow the vrplib package PyVRP imports: keep this folder off the path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from ground_control.planning.energy import FlightProfile  # noqa: E402
from ground_control.planning.geometry import Projection  # noqa: E402
from ground_control.planning.model import (  # noqa: E402
    GeofenceSpec, HubSpec, Objective, ParcelSpec, Plan, PlanRequest, Point, VehicleKind,
    VehicleSpec,
)
from ground_control.planning.prices import DEFAULT_PRICES, TIME_OBJECTIVE, priced  # noqa: E402
from ground_control.planning.solver import PyVRPPlanner  # noqa: E402

ORIGIN = Point(lat=52.0, lon=4.0)
_PROJ = Projection(ORIGIN)
#: the demo fleet's specs (ground_control/demo/scenario.py)
DRONE = dict(payload_kg=2.5, battery_wh=500.0, wh_per_km=12.0, speed_mps=12.0, max_stops=1)
ROBOT = dict(payload_kg=25.0, battery_wh=900.0, wh_per_km=25.0, speed_mps=6.0)


def at(x: float, y: float) -> Point:
    return _PROJ.to_points([[x, y]])[0]


def _fleet(hub_id: str, drones: int, robots: int) -> list[VehicleSpec]:
    out = [VehicleSpec(vehicle_id=f"{hub_id}-d{i}", kind=VehicleKind.drone, hub_id=hub_id, **DRONE)
           for i in range(drones)]
    out += [VehicleSpec(vehicle_id=f"{hub_id}-r{i}", kind=VehicleKind.robot, hub_id=hub_id,
                        **ROBOT) for i in range(robots)]
    return out


def idle_drones() -> PlanRequest:
    """8 light parcels 0.6-1.1 km around the hub, 3 drones and 2 robots idle."""
    parcels = []
    for i in range(8):
        r = 600.0 + 500.0 * i / 7
        a = 2 * math.pi * i / 8 + 0.3
        parcels.append(ParcelSpec(parcel_id=f"p{i}", hub_id="H",
                                  drop_off=at(r * math.cos(a), r * math.sin(a)),
                                  weight_kg=0.5 + 0.08 * i))
    return PlanRequest(hubs=(HubSpec("H", at(0, 0)),), vehicles=tuple(_fleet("H", 3, 2)),
                       parcels=tuple(parcels))


def city(seed: int = 7) -> PlanRequest:
    """2 hubs, 20 drones, 10 robots, 12 no-fly zones, 160 parcels."""
    rng = random.Random(seed)
    hubs = (HubSpec("A", at(-1500, 0)), HubSpec("B", at(1500, 0)))
    zones = []
    while len(zones) < 12:
        cx, cy = rng.uniform(-4000, 4000), rng.uniform(-3000, 3000)
        if min(math.hypot(cx - hx, cy) for hx in (-1500, 1500)) < 600:
            continue
        h = rng.uniform(80, 200)
        zones.append(tuple(at(cx + dx, cy + dy) for dx, dy in
                           ((-h, -h), (h, -h), (h, h), (-h, h))))
    parcels = []
    for i in range(160):
        hub_id, hx = ("A", -1500) if i % 2 == 0 else ("B", 1500)
        r, a = 3000 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        parcels.append(ParcelSpec(parcel_id=f"c{i}", hub_id=hub_id,
                                  drop_off=at(hx + r * math.cos(a), r * math.sin(a)),
                                  weight_kg=round(rng.choice([0.3, 0.6, 1.0, 1.5, 2.2, 4.0]), 1),
                                  priority=3 if i % 10 == 0 else 1))
    fence = GeofenceSpec(inclusion=tuple(at(x, y) for x, y in
                                         ((-5500, -4000), (5500, -4000), (5500, 4000),
                                          (-5500, 4000))),
                         exclusions=tuple(zones))
    return PlanRequest(hubs=hubs, vehicles=tuple(_fleet("A", 10, 5) + _fleet("B", 10, 5)),
                       parcels=tuple(parcels), geofence=fence)


SCENARIOS = {"idle_drones": idle_drones, "city": city}


def with_objective(req: PlanRequest, objective: str) -> PlanRequest:
    """``distance``: the request as dispatch built it before (default prices: 1 per km, no fixed
    cost). ``time``: the kinds' default prices and the default waiting price."""
    if objective == "distance":
        return dataclasses.replace(req, objective=Objective())
    vehicles = tuple(priced(v, DEFAULT_PRICES[v.kind]) for v in req.vehicles)
    return dataclasses.replace(req, vehicles=vehicles, objective=TIME_OBJECTIVE)


def metrics(plan: Plan) -> dict:
    etas = [s.eta_s for r in plan.routes for s in r.stops]
    return {
        "last_drop_min": round(max(etas) / 60, 2) if etas else None,
        "mean_delivery_min": round(sum(etas) / len(etas) / 60, 2) if etas else None,
        "distance_km": round(sum(r.distance_m for r in plan.routes) / 1000, 2),
        "vehicles_used": sum(1 for r in plan.routes if r.stops),
        "drones_used": sum(1 for r in plan.routes if r.stops and "-d" in r.vehicle_id),
        "served": len(etas), "unplanned": len(plan.unplanned),
        "waiting_cost": round(plan.waiting_cost, 2),
    }


def run(scenario: str, objective: str, seconds: float, seed: int,
        iterations: int | None = None) -> dict:
    req = with_objective(SCENARIOS[scenario](), objective)
    planner = PyVRPPlanner(time_limit_s=seconds, seed=seed, max_iterations=iterations,
                           flight=FlightProfile())
    plan = planner.plan(req)
    return {"scenario": scenario, "objective": objective, **metrics(plan),
            "seconds": round(plan.solve_s, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scenarios", default="idle_drones,city")
    args = ap.parse_args()
    for sc in args.scenarios.split(","):
        for obj in ("distance", "time"):
            print(json.dumps(run(sc, obj, args.seconds, args.seed)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
