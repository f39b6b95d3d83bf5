"""Travel costs per vehicle kind over one node set (hubs first, then parcels).

Solvers only see these matrices (metres, ``inf`` = unreachable) and ask for the path of the legs
they chose, so the geometry behind them (visibility graph for drones, street graph or detour factor
for robots) can change without touching any solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ground_control.planning.energy import FlightProfile, VerticalTimes
from ground_control.planning.geometry import Projection, centroid_point, euclidean_matrix
from ground_control.planning.model import Leg, PlanRequest, Point, VehicleKind, VehicleSpec


class Router(Protocol):
    """Shortest paths among a fixed set of points (in projected metres)."""

    def distances(self) -> np.ndarray:
        """(n, n) metres; ``inf`` where no path exists (e.g. a point inside a no-fly zone)."""
        ...

    def path(self, i: int, j: int) -> np.ndarray:
        """(k, 2) waypoints from point i to point j, both ends included."""
        ...


@dataclass
class StraightRouter:
    """Straight lines, scaled by a detour factor (robots without a street network)."""

    xy: np.ndarray
    factor: float = 1.0
    blocked: np.ndarray | None = None     # bool per point: unreachable
    _d: np.ndarray | None = field(default=None, init=False, repr=False)

    def distances(self) -> np.ndarray:
        if self._d is None:
            d = euclidean_matrix(self.xy) * self.factor
            if self.blocked is not None and self.blocked.any():
                d[self.blocked, :] = np.inf
                d[:, self.blocked] = np.inf
                np.fill_diagonal(d, 0.0)
            self._d = d
        return self._d

    def path(self, i: int, j: int) -> np.ndarray:
        return self.xy[[i, j]]


@dataclass
class TravelCosts:
    """Node set of a request plus one router per vehicle kind."""

    projection: Projection
    points: tuple[Point, ...]                 # hubs, then parcels, in request order
    hub_index: dict[str, int]
    parcel_index: dict[str, int]
    xy: np.ndarray
    routers: dict[VehicleKind, Router]
    flight: FlightProfile = field(default_factory=FlightProfile)

    def dist(self, kind: VehicleKind) -> np.ndarray:
        return self.routers[kind].distances()

    def overheads(self, v: VehicleSpec) -> tuple[float, float]:
        """(per route, per stop) energy of ``v`` beyond level travel, in level metres."""
        return self.flight.overheads(v)

    def times(self, v: VehicleSpec) -> VerticalTimes:
        """Seconds ``v`` spends climbing, descending and hovering (ETAs include them)."""
        return self.flight.times(v)

    def budget(self, v: VehicleSpec) -> float:
        """Level metres ``v`` may spend on a route: travel plus overheads."""
        return self.flight.budget_m(v)

    def leg(self, kind: VehicleKind, i: int, j: int) -> Leg:
        """The leg i -> j as WGS84 (or planar) waypoints, endpoints exactly the node positions."""
        if i == j:
            return Leg(path=(self.points[i], self.points[j]), distance_m=0.0)
        xy = self.routers[kind].path(i, j)
        inner = self.projection.to_points(xy[1:-1]) if len(xy) > 2 else ()
        return Leg(path=(self.points[i], *inner, self.points[j]),
                   distance_m=float(self.dist(kind)[i, j]))


def node_points(request: PlanRequest) -> tuple[tuple[Point, ...], dict[str, int], dict[str, int]]:
    hubs = {h.hub_id: i for i, h in enumerate(request.hubs)}
    parcels = {p.parcel_id: len(hubs) + k for k, p in enumerate(request.parcels)}
    points = tuple(h.position for h in request.hubs) + tuple(p.drop_off for p in request.parcels)
    return points, hubs, parcels


def build_costs(request: PlanRequest, drone_router: str = "fast",
                flight: FlightProfile | None = None) -> TravelCosts:
    """Project the request's nodes and build each kind's router (only for kinds in the fleet)."""
    # Imported here: geometry backends are heavier than the model and only needed when planning.
    from ground_control.planning.streets import street_router
    from ground_control.planning.visibility import drone_router as make_drone_router

    points, hubs, parcels = node_points(request)
    ref_pool = list(points) + (list(request.geofence.inclusion) if request.geofence else [])
    projection = Projection(ref=centroid_point(ref_pool) if ref_pool else Point(0, 0),
                            planar=request.planar)
    xy = projection.to_xy(points)
    kinds = {v.kind for v in request.vehicles} or {VehicleKind.drone}
    routers: dict[VehicleKind, Router] = {}
    for kind in kinds:
        if kind is VehicleKind.drone:
            routers[kind] = make_drone_router(xy, request.geofence, projection, method=drone_router)
        else:
            routers[kind] = street_router(xy, request, projection)
    return TravelCosts(projection, points, hubs, parcels, xy, routers, flight or FlightProfile())
