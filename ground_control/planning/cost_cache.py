"""Travel costs kept between planning passes.

Building the travel costs (visibility graph around no-fly zones, street graph) takes 0.7-0.9 s in
a fresh process, most of a 1 s dispatch budget. Between two dispatch rounds the hubs, geofence,
streets and vehicle kinds rarely change and the parcels left to plan are mostly ones already
seen: a request whose drop-offs are all in a cached entry of the same context reuses it (the
matrices may hold more parcels than the request: every planner looks parcels up by id). A
request with a parcel the entry has not seen rebuilds the entry for the request's parcels
(rows of seen parcels are not reused: the routers build their matrices in one block).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Hashable

from ground_control.planning.costs import TravelCosts, build_costs
from ground_control.planning.energy import FlightProfile
from ground_control.planning.model import PlanRequest


def context_key(request: PlanRequest, drone_router: str, flight: FlightProfile | None) -> Hashable:
    """Everything but the parcels that the travel costs depend on."""
    kinds = frozenset(v.kind for v in request.vehicles)
    return (request.planar, request.hubs, request.geofence, request.streets,
            request.robot_detour_factor, kinds, drone_router, flight)


class CostCache:
    """Up to ``max_entries`` contexts (dispatch plans each hub separately: one entry per hub),
    least recently used dropped first. Thread-safe (planners run in worker threads)."""

    def __init__(self, max_entries: int = 16) -> None:
        self.max_entries = max_entries
        self.hits = self.misses = 0
        self._entries: OrderedDict[Hashable, TravelCosts] = OrderedDict()
        self._lock = threading.Lock()

    def costs(self, request: PlanRequest, drone_router: str = "fast",
              flight: FlightProfile | None = None) -> TravelCosts:
        key = context_key(request, drone_router, flight)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None and _covers(cached, request):
                self._entries.move_to_end(key)
                self.hits += 1
                return cached
            self.misses += 1
        built = build_costs(request, drone_router, flight)
        with self._lock:
            self._entries[key] = built
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return built


def _covers(costs: TravelCosts, request: PlanRequest) -> bool:
    """Every parcel of the request is in ``costs`` at the same drop-off."""
    idx = costs.parcel_index
    return all(p.parcel_id in idx and costs.points[idx[p.parcel_id]] == p.drop_off
               for p in request.parcels)
