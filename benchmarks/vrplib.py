"""Route quality on public VRPLIB instances, through the planner's own domain model.

Each instance becomes a ``PlanRequest`` in planar mode (``Point.lon``/``lat`` = x/y, costs exact,
no projection): depots -> hubs, vehicles -> ``VehicleSpec`` (capacity, fixed and per-distance
cost, shift), clients -> ``ParcelSpec`` (demand, service time, time window; multi-depot clients
may leave from any hub via ``alt_hub_ids``). The PyVRPPlanner solves it with the family's integer
convention, the GreedyPlanner on the same request in the same run is the baseline. The cost of
both plans is recomputed from their stop sequences with the family's rounding rule, and so is the
best-known solution's: the gap is taken against the BKS routes' cost under that same rule
(``bks``), never against the ``.sol`` header (``bks_stated``), which some instances state scaled
(x1e3, x1e5) or rounded differently; ``bks_stated_ratio`` shows how far the header is off.

    .venv/bin/python benchmarks/vrplib.py ../shared/bench/*/*.vrp --seconds 10

The instances are not in this repository: they are in ``../shared/bench/`` beside the project
checkout (one folder per family, each ``.vrp`` with its ``.sol``).

Large-instance profile (600-1,000 clients; the smaller files are skipped): each instance is
solved for every budget in ``--budgets`` by our planner and by bare PyVRP on the same file
(``pyvrp.read`` + ``pyvrp.solve``, the same-run baseline), one line per instance and budget, then
one ``"summary"`` line per instance saying whether 10 s is enough (``short_budget_enough``: no
longer budget improves the gap by more than ``--enough-pp`` points) and what each budget buys:

    .venv/bin/python benchmarks/vrplib.py ../shared/bench/*/*.vrp --profile large \\
        --budgets 10,30,60
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
    "MDVRPTW": Convention(0.001, "round", 0.001),   # distances x1000, rounded (see reference_cost)
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


def reference_cost(sol: dict, req: PlanRequest, vdepot: list[int], xy: np.ndarray,
                   conv: Convention) -> float:
    """The best-known solution's cost under the instance's own rounding rule: its routes
    (aligned with the vehicles) costed exactly as our plans are. This, not the ``.sol`` header,
    is what a gap must be taken against."""
    fixed = {k: v.fixed_cost for k, v in enumerate(req.vehicles)}
    unit = {k: v.cost_per_km / 1000.0 for k, v in enumerate(req.vehicles)}
    seqs = [(k, [vdepot[k]] + [int(c) for c in r] + [vdepot[k]])
            for k, r in enumerate(sol["routes"]) if len(r)]
    return sequences_cost(seqs, fixed, unit, xy, conv)


def gap_pct(cost: float, reference: float) -> float:
    return round(float(100 * (cost - reference) / reference), 3)


@dataclass
class Loaded:
    """An instance read once, with everything a run needs."""

    inst: dict
    family: str
    conv: Convention
    req: PlanRequest
    xy: np.ndarray
    bks: float            # the BKS routes' cost under the instance's rounding rule
    bks_stated: float     # the ``.sol`` header, reported only


def load(path: Path) -> Loaded:
    inst = vrplib.read_instance(str(path))
    family = str(inst.get("type", "CVRP")).upper()
    conv = CONVENTIONS[family]
    req, vdepot = to_request(inst, family)
    xy = np.asarray(inst["node_coord"], dtype=float)
    sol = vrplib.read_solution(str(path.with_suffix(".sol")))
    return Loaded(inst, family, conv, req, xy, reference_cost(sol, req, vdepot, xy, conv),
                  float(sol["cost"]))


def _bks_fields(ld: Loaded) -> dict:
    return {"bks": round(ld.bks, 3), "bks_stated": ld.bks_stated,
            "bks_stated_ratio": round(ld.bks_stated / ld.bks, 6) if ld.bks else None}


def run(path: Path, seconds: float, seed: int) -> dict:
    ld = load(path)
    inst, family, conv, req, xy = ld.inst, ld.family, ld.conv, ld.req, ld.xy
    planner = PyVRPPlanner(time_limit_s=seconds, seed=seed, distance_unit_m=conv.unit,
                           time_unit_s=conv.unit, rounding=conv.solver_rounding, optional=False,
                           safe_times=False)
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
        "cost": round(cost, 3), **_bks_fields(ld), "gap_pct": gap_pct(cost, ld.bks),
        "unplanned": len(plan.unplanned), "seconds": round(secs, 2),
        "greedy_cost": round(gcost, 3), "greedy_gap_pct": gap_pct(gcost, ld.bks),
        "greedy_unplanned": len(greedy.unplanned), "greedy_seconds": round(gsecs, 2),
    }


# ------------------------------------------------------------------ large-instance profile
LARGE = (600, 1000)          # clients


def client_count(path: Path) -> int:
    """Clients of an instance from its header alone (DIMENSION less the depots)."""
    inst = vrplib.read_instance(str(path))
    return len(inst["node_coord"]) - len(np.atleast_1d(inst["depot"]))


_PYVRP_ROUNDING = {"round": "round", "trunc": "dimacs", "exact": "exact"}


def bare_pyvrp_cost(path: Path, ld: Loaded, seconds: float, seed: int) -> tuple[float, float]:
    """Bare PyVRP on the file (its own reader and rounding), costed with our rule: the baseline
    that shows what the budget alone gives, without our model in between."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    data = pyvrp.read(str(path), round_func=_PYVRP_ROUNDING[ld.conv.rounding])
    t0 = time.perf_counter()
    res = pyvrp.solve(data, stop=MaxRuntime(seconds), seed=seed, display=False)
    secs = time.perf_counter() - t0
    # vehicle types keep the file's vehicle order: the first vehicle of type t has index
    # sum of the earlier types' counts
    first = np.cumsum([0] + [data.vehicle_type(t).num_available
                             for t in range(data.num_vehicle_types)])
    fixed = {k: v.fixed_cost for k, v in enumerate(ld.req.vehicles)}
    unit = {k: v.cost_per_km / 1000.0 for k, v in enumerate(ld.req.vehicles)}
    clients, depots = data.clients(), data.depots()
    seqs = []
    for r in res.best.routes():
        k = int(first[r.vehicle_type()])
        nodes = [clients[a.idx].location for a in r if a.is_client()]
        seqs.append((k, [depots[r.start_depot()].location] + nodes
                     + [depots[r.end_depot()].location]))
    cost = sequences_cost(seqs, fixed, unit, ld.xy, ld.conv)
    if not res.best.is_feasible():
        cost = float("nan")
    return cost, secs


def run_large(path: Path, budgets: list[float], seed: int) -> list[dict]:
    ld = load(path)
    lines = []
    for s in budgets:
        planner = PyVRPPlanner(time_limit_s=s, seed=seed, distance_unit_m=ld.conv.unit,
                               time_unit_s=ld.conv.unit, rounding=ld.conv.solver_rounding,
                               optional=False, safe_times=False)
        t0 = time.perf_counter()
        plan = planner.plan(ld.req)
        secs = time.perf_counter() - t0
        cost = plan_cost(plan, ld.req, ld.xy, ld.conv)
        bare, bsecs = bare_pyvrp_cost(path, ld, s, seed)
        lines.append({
            "instance": ld.inst["name"], "profile": "large", "family": ld.family,
            "clients": len(ld.req.parcels), "budget_s": s, **_bks_fields(ld),
            "cost": round(cost, 3), "gap_pct": gap_pct(cost, ld.bks),
            "unplanned": len(plan.unplanned), "seconds": round(secs, 2),
            "bare_cost": round(bare, 3), "bare_gap_pct": gap_pct(bare, ld.bks),
            "bare_seconds": round(bsecs, 2)})
    return lines


def summarise_large(lines: list[dict], enough_pp: float) -> dict:
    """Whether the shortest budget is enough, and what each longer one buys (gap points gained
    over the shortest, ours and bare PyVRP)."""
    first = lines[0]
    best_gain = max((first["gap_pct"] - ln["gap_pct"] for ln in lines[1:]), default=0.0)
    return {
        "instance": first["instance"], "profile": "large", "summary": True,
        "short_budget_s": first["budget_s"],
        "short_budget_enough": bool(best_gain <= enough_pp),
        "gap_pct_by_budget": {str(ln["budget_s"]): ln["gap_pct"] for ln in lines},
        "bare_gap_pct_by_budget": {str(ln["budget_s"]): ln["bare_gap_pct"] for ln in lines},
        "gain_pp_over_short": {str(ln["budget_s"]): round(first["gap_pct"] - ln["gap_pct"], 3)
                               for ln in lines[1:]},
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
    ap.add_argument("--profile", choices=("all", "large"), default="all",
                    help="large: only %d-%d clients, every budget, bare PyVRP beside" % LARGE)
    ap.add_argument("--budgets", default="10,30,60",
                    help="large profile: comma-separated seconds, shortest first")
    ap.add_argument("--enough-pp", type=float, default=0.5,
                    help="large profile: a longer budget gaining more than this many gap "
                         "points means the shortest is not enough")
    args = ap.parse_args()
    missing = [str(p) for p in args.paths if not p.is_file()]
    if not args.paths or missing:
        detail = f" (not found: {', '.join(missing[:5])})" if missing else " was given"
        print(NO_INSTANCES.format(detail=detail), file=sys.stderr)
        return 2
    if args.profile == "large":
        budgets = sorted(float(b) for b in args.budgets.split(","))
        for p in args.paths:
            if not LARGE[0] <= client_count(p) <= LARGE[1]:
                continue
            lines = run_large(p, budgets, args.seed)
            for ln in lines:
                print(json.dumps(ln), flush=True)
            print(json.dumps(summarise_large(lines, args.enough_pp)), flush=True)
        return
    for p in args.paths:
        print(json.dumps(run(p, args.seconds, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
