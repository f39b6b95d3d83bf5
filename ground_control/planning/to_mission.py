"""A planned route as the mission the edge agent flies (``fleet_protocol.Mission``).

The leg paths become waypoints: ``Stop.path`` holds the intermediate points of the leg that leads
to the stop, ``Mission.return_path`` those of the last leg back to the hub (both ends excluded:
they are the stops and the hub themselves). The geofence sent is the operator's, unbuffered: the
agent checks against the real zones, the planner kept its safety margin on top.
"""

from __future__ import annotations

from datetime import datetime

from fleet_protocol.geo import Geofence, LatLon, Polygon
from fleet_protocol.mission import Hub, Mission, Stop, StopAction, VehicleType

from ground_control.planning.energy import FlightProfile
from ground_control.planning.model import (
    GeofenceSpec, HubSpec, PlanRequest, Point, Route, VehicleKind, VehicleSpec,
)


def _ll(p: Point) -> LatLon:
    return LatLon(lat=p.lat, lon=p.lon)


def geofence_to_protocol(g: GeofenceSpec) -> Geofence:
    return Geofence(inclusion=Polygon(vertices=[_ll(p) for p in g.inclusion]),
                    exclusions=[Polygon(vertices=[_ll(p) for p in ex]) for ex in g.exclusions],
                    ceiling_m=g.ceiling_m)


def route_to_mission(route: Route, plan_request: PlanRequest, vehicle: VehicleSpec, hub: HubSpec,
                     geofence: GeofenceSpec, mission_id: str, *,
                     flight: FlightProfile | None = None,
                     expires_at: datetime | None = None) -> Mission:
    """One route -> one mission. Altitudes come from the ``FlightProfile`` the route was planned
    with (its climbs were budgeted at those altitudes). Raises ``ValueError`` for planar
    (non-WGS84) requests."""
    flight = flight or FlightProfile()
    if plan_request.planar:
        raise ValueError("a planar request has no geographic positions to fly")
    weights = {p.parcel_id: p.weight_kg for p in plan_request.parcels}
    drone = vehicle.kind is VehicleKind.drone
    action = StopAction.release if drone else StopAction.handover
    stops = [Stop(parcel_id=s.parcel_id, drop_off=_ll(s.position), action=action,
                  weight_kg=weights.get(s.parcel_id, 0.0),
                  path=[_ll(p) for p in leg.path[1:-1]])
             for s, leg in zip(route.stops, route.legs)]
    return Mission(
        mission_id=mission_id, vehicle_id=vehicle.vehicle_id,
        vehicle_type=VehicleType.drone if drone else VehicleType.robot,
        hub=Hub(hub_id=hub.hub_id, position=_ll(hub.position)), stops=stops,
        return_path=[_ll(p) for p in route.legs[-1].path[1:-1]],
        geofence=geofence_to_protocol(geofence),
        cruise_alt_m=min(flight.cruise_alt_m, geofence.ceiling_m),
        drop_alt_m=min(flight.drop_alt_m, flight.cruise_alt_m, geofence.ceiling_m),
        cruise_speed_mps=vehicle.speed_mps, expires_at=expires_at)
