"""A fast, simple planner: the baseline every optimiser is measured against, and a fallback when
there is no time to optimise. Each vehicle in turn takes the parcel it can start serving soonest
(nearest, when there are no time windows) until nothing more fits its payload, range or windows."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ground_control.planning.cost_cache import CostCache
from ground_control.planning.costs import TravelCosts
from ground_control.planning.energy import FlightProfile
from ground_control.planning.feasibility import parcel_hubs, prepare
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
    stops: int = 0
    depart: float = 0.0
    fresh: bool = True          # nothing visited yet: the departure may still move later


class GreedyPlanner:
    """Nearest-neighbour construction per vehicle, vehicles taken cheapest-first per hub."""

    def __init__(self, drone_router: str = "fast", flight: FlightProfile | None = None,
                 cache: CostCache | None = None) -> None:
        self.drone_router = drone_router
        self.flight = flight
        self.cache = cache

    def plan(self, request: PlanRequest, costs: TravelCosts | None = None) -> Plan:
        t0 = time.perf_counter()
        costs, prefixes, sc = prepare(request, costs, self.drone_router, self.flight, self.cache)
        pool = [p for p in request.parcels if p.parcel_id in sc.candidates]
        arr = _ParcelArrays.of(pool, costs)
        can = [{c.vehicle_id for c in sc.candidates[p.parcel_id] if c.hub_id in parcel_hubs(p)}
               for p in pool]
        open_ = np.ones(len(pool), dtype=bool)
        vehicles = sorted((v for v in request.vehicles if v.available),
                          key=lambda v: (v.vehicle_id not in prefixes, v.fixed_cost,
                                         -v.payload_kg, v.vehicle_id))
        routes: list[Route] = []
        cost = 0.0
        for v in vehicles:
            allowed = np.array([v.vehicle_id in ids for ids in can], dtype=bool)
            seq = list(prefixes.get(v.vehicle_id, []))
            tour = self._start(v, seq, costs)
            while True:
                k = self._next(tour, arr, open_ & allowed, costs, request)
                if k is None:
                    break
                self._visit(tour, pool[k], costs)
                seq.append(pool[k])
                open_[k] = False
            if seq:
                r = build_route(v, v.hub_id, seq, costs, tour.depart)
                routes.append(r)
                cost += route_cost(v, r)
        unplanned = dict(sc.unplanned)
        unplanned.update({pool[k].parcel_id: UnplannedReason.not_selected
                          for k in np.flatnonzero(open_)})
        return Plan(routes=tuple(routes), unplanned=unplanned, cost=cost,
                    solve_s=time.perf_counter() - t0)

    @staticmethod
    def _start(v: VehicleSpec, prefix: list[ParcelSpec], costs: TravelCosts) -> _Tour:
        tour = _Tour(vehicle=v, node=costs.hub_index[v.hub_id], fresh=not prefix,
                     dist=costs.overheads(v)[0])      # "dist": level metres spent so far
        for p in prefix:
            GreedyPlanner._visit(tour, p, costs)
        return tour

    @staticmethod
    def _visit(tour: _Tour, p: ParcelSpec, costs: TravelCosts) -> None:
        j = costs.parcel_index[p.parcel_id]
        d = costs.dist(tour.vehicle.kind)[tour.node, j]
        vt = costs.times(tour.vehicle)
        tour.t += (vt.takeoff_s if tour.fresh else 0.0) + d / tour.vehicle.speed_mps + vt.arrive_s
        if p.time_window is not None:
            if tour.fresh:      # leave later instead of waiting at the first drop-off
                tour.depart = max(0.0, p.time_window.earliest_s - tour.t)
            tour.t = max(tour.t, p.time_window.earliest_s)
        tour.fresh = False
        tour.t += p.service_s + vt.leave_s
        tour.dist += d + costs.overheads(tour.vehicle)[1]
        tour.load += p.weight_kg
        tour.stops += 1
        tour.node = j

    @staticmethod
    def _next(tour: _Tour, arr: "_ParcelArrays", mask: np.ndarray, costs: TravelCosts,
              request: PlanRequest) -> int | None:
        """Index of the open parcel this vehicle can start serving soonest (then nearest) without
        breaking payload, range, window or shift; None when nothing fits."""
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            return None
        v = tour.vehicle
        d = costs.dist(v.kind)
        h = costs.hub_index[v.hub_id]
        j = arr.node[idx]
        go, back = d[tour.node, j], d[j, h]
        vt = costs.times(v)
        to_drop = (vt.takeoff_s if tour.fresh else 0.0) + go / v.speed_mps + vt.arrive_s
        start = np.maximum(tour.t + to_drop, arr.early[idx])
        if v.max_stops is not None and tour.stops >= v.max_stops:
            return None
        ok = (tour.load + arr.weight[idx] <= v.payload_kg + _EPS)
        ok &= tour.dist + go + costs.overheads(v)[1] + back <= costs.budget(v) + _EPS
        ok &= start <= arr.late[idx] + _EPS
        end = start + arr.service[idx] + vt.leave_s + back / v.speed_mps + vt.landing_s
        depart = np.maximum(0.0, start - to_drop) if tour.fresh else tour.depart
        if request.horizon_s is not None:
            ok &= end <= request.horizon_s + _EPS
        if v.max_duration_s is not None:
            ok &= end - depart <= v.max_duration_s + _EPS
        if not ok.any():
            return None
        cand = np.flatnonzero(ok)
        best = cand[np.lexsort((go[cand], start[cand]))[0]]
        return int(idx[best])


@dataclass
class _ParcelArrays:
    """The open parcels' data as arrays, so each greedy step is a few vector operations."""

    node: np.ndarray
    weight: np.ndarray
    early: np.ndarray
    late: np.ndarray
    service: np.ndarray

    @classmethod
    def of(cls, parcels: list[ParcelSpec], costs: TravelCosts) -> "_ParcelArrays":
        tw = [p.time_window for p in parcels]
        return cls(node=np.array([costs.parcel_index[p.parcel_id] for p in parcels], dtype=int),
                   weight=np.array([p.weight_kg for p in parcels], dtype=float),
                   early=np.array([w.earliest_s if w else -math.inf for w in tw], dtype=float),
                   late=np.array([w.latest_s if w else math.inf for w in tw], dtype=float),
                   service=np.array([p.service_s for p in parcels], dtype=float))
