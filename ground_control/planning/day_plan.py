"""Whole-day plans: every feasible parcel gets a vehicle and an ETA, not only those the first
trips can carry.

Each vehicle gets one trip per plan (that is what dispatch sends: one mission at a time), so
with 300 parcels and 30 vehicles most parcels used to be ``not_selected`` with no ETA. The
``DayPlanner`` plans successive trips: after its trip a vehicle is back at its hub, swaps its
battery or reloads in ``turnaround_s``, and goes again (``VehicleSpec.ready_s``, a full battery
and an empty payload). The parcels the first trips leave are planned onto those later trips,
round after round, until none is left, nothing more can be served, or ``max_trips`` rounds.
``Plan.routes`` stays the first trip (dispatch sends it); ``Plan.later`` holds the later trips
(``Route.trip`` 1, 2, ...) with their ETAs. Successive optimisation rather than one multi-trip
model: each trip is optimised on its own, so a parcel is never moved to an earlier trip than
the solver first gave it, and the first trips are exactly what the plain planner would send.
"""

from __future__ import annotations

import dataclasses
import time

from ground_control.planning.costs import build_costs
from ground_control.planning.model import Plan, PlanRequest, Route, UnplannedReason
from ground_control.planning.objective import waiting_cost
from ground_control.planning.routes import route_cost
from ground_control.planning.solver import PyVRPPlanner


class DayPlanner:
    """A ``RoutePlanner`` whose plans cover the day: first trips in ``routes``, later ones in
    ``later``. ``later_time_limit_s``: search time per later round (default: the planner's)."""

    def __init__(self, planner: PyVRPPlanner | None = None, turnaround_s: float = 300.0,
                 max_trips: int = 12, later_time_limit_s: float | None = None) -> None:
        self.planner = planner or PyVRPPlanner()
        self.turnaround_s, self.max_trips = turnaround_s, max_trips
        self.later_time_limit_s = later_time_limit_s

    def plan(self, request: PlanRequest) -> Plan:
        t0 = time.perf_counter()
        pl = self.planner
        # one set of travel costs for every round (later rounds plan subsets of the parcels)
        costs = (pl.cache.costs(request, pl.drone_router, pl.flight) if pl.cache is not None
                 else build_costs(request, pl.drone_router, pl.flight))
        first = pl.plan(request, costs=costs)
        ready = {v.vehicle_id: v.ready_s for v in request.vehicles if v.available}
        for r in first.routes:
            ready[r.vehicle_id] = self._back(r)
        unplanned = dict(first.unplanned)
        pool = [p for p in request.parcels
                if unplanned.get(p.parcel_id) is UnplannedReason.not_selected]
        later: list[Route] = []
        limit = self.later_time_limit_s
        for trip in range(1, self.max_trips + 1):
            if not pool:
                break
            vehicles = tuple(dataclasses.replace(v, ready_s=ready[v.vehicle_id])
                             for v in request.vehicles if v.available)
            sub = dataclasses.replace(request, parcels=tuple(pool), vehicles=vehicles,
                                      committed={})
            if limit is not None:
                sub = dataclasses.replace(sub, time_limit_s=limit)
            plan = pl.plan(sub, costs=costs)
            trips = [dataclasses.replace(r, trip=trip) for r in plan.routes if r.stops]
            # what is still left keeps the reason this round gave (a window now out of reach...)
            unplanned.update(plan.unplanned)
            if not trips:
                break
            later.extend(trips)
            for r in trips:
                ready[r.vehicle_id] = self._back(r)
                for s in r.stops:
                    unplanned.pop(s.parcel_id, None)
            pool = [p for p in pool
                    if plan.unplanned.get(p.parcel_id) is UnplannedReason.not_selected]
        by_id = {p.parcel_id: p for p in request.parcels}
        spec = {v.vehicle_id: v for v in request.vehicles}
        obj = request.objective
        extra_wait = sum(waiting_cost(r, by_id, obj) for r in later)
        extra_money = sum(route_cost(spec[r.vehicle_id], r, obj) for r in later)
        return dataclasses.replace(first, unplanned=unplanned, later=tuple(later),
                                   solve_s=time.perf_counter() - t0,
                                   waiting_cost=first.waiting_cost + extra_wait,
                                   cost=first.cost + extra_money + extra_wait)

    def _back(self, r: Route) -> float:
        """When the vehicle can leave again: landed, battery swapped or reloaded."""
        return r.depart_s + r.duration_s + self.turnaround_s
