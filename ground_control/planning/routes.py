"""Turn a vehicle's ordered parcel ids into a ``Route``: legs with waypoints, ETAs, distance,
energy. One place for this arithmetic so every planner reports routes the same way."""

from __future__ import annotations

from typing import Sequence

from ground_control.planning.costs import TravelCosts
from ground_control.planning.objective import money_cost
from ground_control.planning.model import Objective, ParcelSpec, PlannedStop, Route, VehicleSpec


def build_route(vehicle: VehicleSpec, hub_id: str, parcels: Sequence[ParcelSpec],
                costs: TravelCosts, depart_s: float = 0.0) -> Route:
    """ETAs: leave the hub at ``depart_s`` (an optimiser may hold a vehicle back rather than let
    it wait at a drop-off), take off (drones), travel at cruise speed, descend and position over
    the drop-off (drones), wait for a window to open: the ETA is the release/handover; then serve
    and climb back. ``duration_s`` counts from the departure to the landing at the hub."""
    h = costs.hub_index[hub_id]
    nodes = [h] + [costs.parcel_index[p.parcel_id] for p in parcels] + [h]
    legs = tuple(costs.leg(vehicle.kind, a, b) for a, b in zip(nodes, nodes[1:]))
    vt = costs.times(vehicle)
    t, stops = depart_s + vt.takeoff_s, []
    for p, leg in zip(parcels, legs):
        t += leg.distance_m / vehicle.speed_mps + vt.arrive_s
        if p.time_window is not None:
            t = max(t, p.time_window.earliest_s)
        stops.append(PlannedStop(parcel_id=p.parcel_id, position=p.drop_off, eta_s=t))
        t += p.service_s + vt.leave_s
    t += legs[-1].distance_m / vehicle.speed_mps + vt.landing_s
    dist = sum(leg.distance_m for leg in legs)
    start_oh, stop_oh = costs.overheads(vehicle)
    level = dist + start_oh + stop_oh * len(stops)        # climbs and hovers included
    return Route(vehicle_id=vehicle.vehicle_id, hub_id=hub_id, stops=tuple(stops), legs=legs,
                 distance_m=dist, energy_wh=level / 1000.0 * vehicle.wh_per_km,
                 duration_s=t - depart_s, depart_s=depart_s)


def route_cost(vehicle: VehicleSpec, route: Route, objective: Objective | None = None) -> float:
    """The vehicle's money cost of the route (per-hour costs only under the time objective)."""
    return money_cost(vehicle, route, objective or Objective())
