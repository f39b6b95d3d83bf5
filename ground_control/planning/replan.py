"""Re-planning while routes are under way.

What changes between two plans: new parcels arrive, vehicles fail (``available=False``), and the
parcels each vehicle has already been sent for (``PlanRequest.committed``) must stay at the front
of its route, in order. The planners already honour ``committed`` (a committed prefix becomes the
vehicle's starting point in the solver); this module adds what is specific to re-planning: the
parcels of failed vehicles go back to the pool, and the whole re-plan, geometry included, fits a
wall-clock budget (dispatch re-plans on events and must answer quickly).
"""

from __future__ import annotations

import dataclasses
import time

from ground_control.planning.cost_cache import CostCache
from ground_control.planning.costs import build_costs
from ground_control.planning.energy import FlightProfile
from ground_control.planning.model import Plan, PlanRequest
from ground_control.planning.solver import PyVRPPlanner


def released_parcels(request: PlanRequest) -> set[str]:
    """Parcels committed to vehicles that are no longer available: to be planned afresh."""
    down = {v.vehicle_id for v in request.vehicles if not v.available}
    return {p for vid, pids in request.committed.items() if vid in down for p in pids}


def clean_committed(request: PlanRequest) -> dict[str, tuple[str, ...]]:
    """Committed prefixes of available vehicles, restricted to parcels in the request, each parcel
    kept once (the first vehicle that claims it)."""
    known = {p.parcel_id for p in request.parcels}
    avail = {v.vehicle_id for v in request.vehicles if v.available}
    seen: set[str] = set()
    out: dict[str, tuple[str, ...]] = {}
    for vid, pids in request.committed.items():
        if vid not in avail:
            continue
        keep = tuple(p for p in pids if p in known and p not in seen)
        seen.update(keep)
        if keep:
            out[vid] = keep
    return out


class Replanner:
    """A ``RoutePlanner`` for re-planning: committed prefixes kept, failed vehicles' parcels
    released, everything within ``budget_s`` of wall-clock time."""

    def __init__(self, budget_s: float = 2.0, margin_s: float = 0.3, seed: int | None = None,
                 drone_router: str = "fast", flight: FlightProfile | None = None,
                 cache: CostCache | None = None) -> None:
        self.budget_s, self.margin_s, self.seed = budget_s, margin_s, seed
        self.drone_router, self.flight = drone_router, flight
        self.cache = cache

    def plan(self, request: PlanRequest) -> Plan:
        t0 = time.perf_counter()
        request = dataclasses.replace(request, committed=clean_committed(request))
        costs = (self.cache.costs(request, self.drone_router, self.flight) if self.cache
                 else build_costs(request, self.drone_router, self.flight))
        # the solver counts its own set-up; give it what is left after the geometry
        left = self.budget_s - (time.perf_counter() - t0) - self.margin_s
        limit = max(0.05, min(request.time_limit_s, left))
        planner = PyVRPPlanner(time_limit_s=limit, seed=self.seed, drone_router=self.drone_router,
                               flight=self.flight)
        plan = planner.plan(request, costs=costs)
        return dataclasses.replace(plan, solve_s=time.perf_counter() - t0)


def replan(request: PlanRequest, budget_s: float = 2.0) -> Plan:
    """Convenience: ``Replanner(budget_s).plan(request)``."""
    return Replanner(budget_s=budget_s).plan(request)
