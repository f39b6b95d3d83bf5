"""A fast, simple planner: the baseline every optimiser is measured against, and a fallback when
there is no time to optimise. Each vehicle in turn takes the parcel it can start serving soonest
(nearest, when there are no time windows) until nothing more fits its payload, range or windows."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ground_control.planning.costs import TravelCosts, build_costs
from ground_control.planning.feasibility import parcel_hubs, screen, time_limit
from ground_control.planning.model import (
    ParcelSpec, Plan, PlanRequest, Route, UnplannedReason, VehicleSpec,
)
from ground_control.planning.routes import build_route, route_cost

_EPS = 1e-6


@dataclass
class _Tour:
    """A route under construction: where the vehicle is, when, how far it went, what it carries."""

    vehicle: VehicleSpec
    node: int
    t: float = 0.0
    dist: float = 0.0
    load: float = 0.0


def committed_prefixes(request: PlanRequest) -> dict[str, list[ParcelSpec]]:
    """Committed parcels of available vehicles, in order; a failed vehicle's parcels are free."""
    by_id = {p.parcel_id: p for p in request.parcels}
    avail = {v.vehicle_id for v in request.vehicles if v.available}
    out: dict[str, list[ParcelSpec]] = {}
    for vid, pids in request.committed.items():
        if vid in avail:
            out[vid] = [by_id[p] for p in pids if p in by_id]
    return out


class GreedyPlanner:
    """Nearest-neighbour construction per vehicle, vehicles taken cheapest-first per hub."""

    def __init__(self, drone_router: str = "fast") -> None:
        self.drone_router = drone_router

    def plan(self, request: PlanRequest, costs: TravelCosts | None = None) -> Plan:
        t0 = time.perf_counter()
        costs = costs or build_costs(request, self.drone_router)
        prefixes = committed_prefixes(request)
        fixed = frozenset(p.parcel_id for ps in prefixes.values() for p in ps)
        sc = screen(request, costs, exclude=fixed)
        can = {pid: {v.vehicle_id for v in vs} for pid, vs in sc.candidates.items()}
        open_: dict[str, ParcelSpec] = {p.parcel_id: p for p in request.parcels
                                        if p.parcel_id in can}
        vehicles = sorted((v for v in request.vehicles if v.available),
                          key=lambda v: (v.vehicle_id not in prefixes, v.fixed_cost,
                                         -v.payload_kg, v.vehicle_id))
        routes: list[Route] = []
        cost = 0.0
        for v in vehicles:
            seq = list(prefixes.get(v.vehicle_id, []))
            tour = self._start(v, seq, costs)
            while open_:
                nxt = self._next(tour, open_, can, costs, request)
                if nxt is None:
                    break
                self._visit(tour, nxt, costs)
                seq.append(nxt)
                del open_[nxt.parcel_id]
            if seq:
                r = build_route(v, v.hub_id, seq, costs)
                routes.append(r)
                cost += route_cost(v, r)
        unplanned = dict(sc.unplanned)
        unplanned.update({pid: UnplannedReason.not_selected for pid in open_})
        return Plan(routes=tuple(routes), unplanned=unplanned, cost=cost,
                    solve_s=time.perf_counter() - t0)

    @staticmethod
    def _start(v: VehicleSpec, prefix: list[ParcelSpec], costs: TravelCosts) -> _Tour:
        tour = _Tour(vehicle=v, node=costs.hub_index[v.hub_id])
        for p in prefix:
            GreedyPlanner._visit(tour, p, costs)
        return tour

    @staticmethod
    def _visit(tour: _Tour, p: ParcelSpec, costs: TravelCosts) -> None:
        j = costs.parcel_index[p.parcel_id]
        d = costs.dist(tour.vehicle.kind)[tour.node, j]
        tour.t += d / tour.vehicle.speed_mps
        if p.time_window is not None:
            tour.t = max(tour.t, p.time_window.earliest_s)
        tour.t += p.service_s
        tour.dist += d
        tour.load += p.weight_kg
        tour.node = j

    @staticmethod
    def _next(tour: _Tour, open_: dict[str, ParcelSpec], can: dict[str, set[str]],
              costs: TravelCosts, request: PlanRequest) -> ParcelSpec | None:
        v = tour.vehicle
        d = costs.dist(v.kind)
        h = costs.hub_index[v.hub_id]
        t_end = time_limit(v, request)
        best, best_key = None, (math.inf, math.inf)
        for pid, p in open_.items():
            if v.vehicle_id not in can[pid] or v.hub_id not in parcel_hubs(p):
                continue
            if tour.load + p.weight_kg > v.payload_kg + _EPS:
                continue
            j = costs.parcel_index[pid]
            go, back = d[tour.node, j], d[j, h]
            if tour.dist + go + back > v.max_distance_m + _EPS:
                continue
            start = tour.t + go / v.speed_mps
            if p.time_window is not None:
                if start > p.time_window.latest_s + _EPS:
                    continue
                start = max(start, p.time_window.earliest_s)
            if start + p.service_s + back / v.speed_mps > t_end + _EPS:
                continue
            key = (start, go)
            if key < best_key:
                best, best_key = p, key
        return best
