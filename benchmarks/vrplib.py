"""Route quality on public VRPLIB instances, through the planner's own domain model.

Each instance becomes a ``PlanRequest`` in planar mode (``Point.lon``/``lat`` = x/y, costs exact,
no projection): depots -> hubs, vehicles -> ``VehicleSpec`` (capacity, fixed and per-distance
cost, shift), clients -> ``ParcelSpec`` (demand, service time, time window; multi-depot clients
may leave from any hub via ``alt_hub_ids``). The PyVRPPlanner solves it with the family's integer
convention, the GreedyPlanner on the same request in the same run is the baseline. The cost of
both plans is recomputed from their stop sequences with the family's rounding rule; the same
function applied to the best-known solution's routes reproduces its published cost
(``bks_check``), which is what makes the gap meaningful.

    .venv/bin/python benchmarks/vrplib.py ../shared/bench/*/*.vrp --seconds 10

The instances are not in this repository: they are in ``../shared/bench/`` beside the project
checkout (one folder per family, each ``.vrp`` with its ``.sol``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# this file is named like the package it reads with: keep its folder off the import path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
import vrplib  # noqa: E402

from ground_control.planning.greedy import GreedyPlanner
from ground_control.planning.model import (
    HubSpec, ParcelSpec, PlanRequest, Point, TimeWindow, VehicleKind, VehicleSpec,
)
from ground_control.planning.solver import PyVRPPlanner


@dataclass(frozen=True)
class Convention:
    """How a family measures an edge and scales its costs."""

    unit: float          # distance/time unit in instance units (the solver's integer unit)
    rounding: str        # "round" to the unit, "trunc" (DIMACS), "exact" (no rounding)
    cost_divisor: float  # published costs are ours divided by this

    @property
    def solver_rounding(self) -> str:
        return "round" if self.rounding == "exact" else self.rounding

    def edge(self, d: np.ndarray) -> np.ndarray:
        if self.rounding == "exact":
            return d
        x = d / self.unit
        x = np.floor(x + 1e-9) if self.rounding == "trunc" else np.round(x)
        return x * self.unit


CONVENTIONS = {
    "CVRP": Convention(1.0, "round", 1.0),
    # costs x100 in PyVRP's version, distances not rounded: the solver works in 1/1000
    "HFVRP": Convention(0.001, "exact", 100.0),
    "VRPTW": Convention(0.1, "trunc", 1.0),
    "CVRPTW": Convention(0.1, "trunc", 1.0),
    "MDVRPTW": Convention(0.001, "round", 0.001),   # distances x1000, rounded (see bks_check)
}


def _vehicle_count(inst: dict, n_clients: int) -> int:
    return int(inst.get("vehicles", n_clients))


def to_request(inst: dict, family: str) -> tuple[PlanRequest, list[int]]:
    """The instance as the planner's domain model. Returns the request and, per vehicle, its depot
    index (to cost the best-known routes, which are aligned with the vehicles)."""
    xy = np.asarray(inst["node_coord"], dtype=float)
    depots = [int(d) for d in np.atleast_1d(inst["depot"])]
    n = len(xy)
    clients = [i for i in range(n) if i not in depots]
    hubs = tuple(HubSpec(hub_id=f"D{d}", position=Point(lat=xy[d, 1], lon=xy[d, 0]))
                 for d in depots)
    nveh = _vehicle_count(inst, len(clients))
    cap = np.broadcast_to(np.atleast_1d(inst["capacity"]), (nveh,))
    fixed = np.broadcast_to(np.atleast_1d(inst.get("vehicles_fixed_cost", 0)), (nveh,))
    unit = np.broadcast_to(np.atleast_1d(inst.get("vehicles_unit_distance_cost", 1)), (nveh,))
    vdepot = np.atleast_1d(inst.get("vehicles_depot", np.ones(nveh, dtype=int)))
    vdepot = np.broadcast_to(vdepot, (nveh,)) - 1            # 1-based depot numbers
    max_dur = inst.get("vehicles_max_duration")
    vehicles = tuple(VehicleSpec(
        vehicle_id=f"V{k + 1}", kind=VehicleKind.robot, hub_id=f"D{depots[int(vdepot[k])]}",
        payload_kg=float(cap[k]), battery_wh=0.0, wh_per_km=0.0, speed_mps=1.0,
        fixed_cost=float(fixed[k]), cost_per_km=float(unit[k]) * 1000.0,
        max_duration_s=float(max_dur) if max_dur is not None else None)
        for k in range(nveh))
    tw = inst.get("time_window")
    service = np.broadcast_to(np.atleast_1d(inst.get("service_time", 0)), (n,))
    all_hubs = [f"D{d}" for d in depots]
    parcels = tuple(ParcelSpec(
        parcel_id=f"C{i}", hub_id=all_hubs[0], alt_hub_ids=tuple(all_hubs[1:]),
        drop_off=Point(lat=xy[i, 1], lon=xy[i, 0]), weight_kg=float(inst["demand"][i]),
        time_window=TimeWindow(float(tw[i, 0]), float(tw[i, 1])) if tw is not None else None,
        service_s=float(service[i])) for i in clients)
    horizon = float(np.max(np.asarray(tw)[depots, 1])) if tw is not None else None
    req = PlanRequest(hubs=hubs, vehicles=vehicles, parcels=parcels, robot_detour_factor=1.0,
                      planar=True, horizon_s=horizon)
    return req, [depots[int(d)] for d in vdepot]


def sequences_cost(seqs: list[tuple[int, list[int]]], fixed: dict[int, float],
                   unit: dict[int, float], xy: np.ndarray, conv: Convention) -> float:
    """Cost of routes given as (vehicle index, [depot, clients..., depot] node ids)."""
    total = 0.0
    for k, nodes in seqs:
        pts = xy[nodes]
        d = conv.edge(np.hypot(*np.diff(pts, axis=0).T)).sum()
        total += fixed[k] + unit[k] * d
    return total / conv.cost_divisor


def plan_cost(plan, req: PlanRequest, xy: np.ndarray, conv: Convention) -> float:
    vidx = {v.vehicle_id: k for k, v in enumerate(req.vehicles)}
    seqs = []
    for r in plan.routes:
        hub = int(r.hub_id[1:])
        seqs.append((vidx[r.vehicle_id], [hub] + [int(s.parcel_id[1:]) for s in r.stops] + [hub]))
    fixed = {k: v.fixed_cost for k, v in enumerate(req.vehicles)}
    unit = {k: v.cost_per_km / 1000.0 for k, v in enumerate(req.vehicles)}
    return sequences_cost(seqs, fixed, unit, xy, conv)


def run(path: Path, seconds: float, seed: int) -> dict:
    inst = vrplib.read_instance(str(path))
    family = str(inst.get("type", "CVRP")).upper()
    conv = CONVENTIONS[family]
    req, vdepot = to_request(inst, family)
    xy = np.asarray(inst["node_coord"], dtype=float)
    sol = vrplib.read_solution(str(path.with_suffix(".sol")))
    fixed = {k: v.fixed_cost for k, v in enumerate(req.vehicles)}
    unit = {k: v.cost_per_km / 1000.0 for k, v in enumerate(req.vehicles)}
    bks_seqs = [(k, [vdepot[k]] + list(r) + [vdepot[k]])
                for k, r in enumerate(sol["routes"]) if len(r)]
    bks = float(sol["cost"])
    bks_check = sequences_cost(bks_seqs, fixed, unit, xy, conv)

    planner = PyVRPPlanner(time_limit_s=seconds, seed=seed, distance_unit_m=conv.unit,
                           time_unit_s=conv.unit, rounding=conv.solver_rounding, optional=False)
    t0 = time.perf_counter()
    plan = planner.plan(req)
    secs = time.perf_counter() - t0
    t0 = time.perf_counter()
    greedy = GreedyPlanner().plan(req)
    gsecs = time.perf_counter() - t0
    cost = plan_cost(plan, req, xy, conv)
    gcost = plan_cost(greedy, req, xy, conv)
    return {
        "instance": inst["name"], "family": family, "clients": len(req.parcels),
        "cost": round(cost, 3), "bks": bks, "gap_pct": round(100 * (cost - bks) / bks, 3),
        "unplanned": len(plan.unplanned), "seconds": round(secs, 2),
        "greedy_cost": round(gcost, 3), "greedy_gap_pct": round(100 * (gcost - bks) / bks, 3),
        "greedy_unplanned": len(greedy.unplanned), "greedy_seconds": round(gsecs, 2),
        "bks_check": round(bks_check, 3),
    }


NO_INSTANCES = ("no VRPLIB instance to run{detail}. The instances are not in this repository: they are in "
                "../shared/bench/ beside the project checkout, e.g.\n"
                "    .venv/bin/python benchmarks/vrplib.py ../shared/bench/*/*.vrp --seconds 10")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", type=Path, help=".vrp files, each with its .sol beside it")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    missing = [str(p) for p in args.paths if not p.is_file()]
    if not args.paths or missing:
        detail = f" (not found: {', '.join(missing[:5])})" if missing else " was given"
        print(NO_INSTANCES.format(detail=detail), file=sys.stderr)
        return 2
    for p in args.paths:
        print(json.dumps(run(p, args.seconds, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
