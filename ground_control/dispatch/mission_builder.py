"""Planner output -> the wire mission (fleet_protocol.Mission), and DB rows -> planner input.
Pure functions: no session, no MQTT."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from fleet_protocol import Geofence, Hub as ProtoHub, LatLon, Mission, Polygon, Stop, StopAction, VehicleType
from ground_control.db import models as m
from ground_control.domain.geofence import protocol_geofence
from ground_control.planning import (
    GeofenceSpec, HubSpec, ParcelSpec, Point, PlanRequest, Route, RoutePlanner, TimeWindow, VehicleKind, VehicleSpec,
    make_planner,
)
from ground_control.planning.cost_cache import CostCache
from ground_control.planning.energy import FlightProfile
from ground_control.planning.model import Objective, ObjectiveKind
from ground_control.planning.prices import DEFAULT_PRICES, VehiclePrices, priced
from ground_control.settings import Settings


def hub_spec(h: m.Hub) -> HubSpec:
    return HubSpec(hub_id=h.id, position=Point(h.lat, h.lon))


def vehicle_spec(v: m.Vehicle) -> VehicleSpec:
    return VehicleSpec(vehicle_id=v.id, kind=VehicleKind(v.type), hub_id=v.hub_id, payload_kg=v.payload_kg,
                       battery_wh=v.battery_wh, wh_per_km=v.wh_per_km, speed_mps=v.cruise_speed_mps,
                       max_stops=trip_stop_limit(v))


def trip_stop_limit(v: m.Vehicle) -> int | None:
    """A drone releases each parcel from its own gripper/release channel: ``release_bays``
    parcels per trip (one when not declared, as the edge agent assumes). Robots: payload only."""
    if v.type != "drone":
        return None
    return v.release_bays or 1


def parcel_spec(p: m.Parcel, now: datetime) -> ParcelSpec:
    tw = None
    if p.earliest is not None and p.latest is not None:
        tw = TimeWindow(max(0.0, (p.earliest - now).total_seconds()), (p.latest - now).total_seconds())
    return ParcelSpec(parcel_id=p.id, hub_id=p.hub_id, drop_off=Point(*p.drop_off), weight_kg=p.weight_kg,
                      time_window=tw, priority=p.priority)


def fence_for(fences: Iterable[m.Geofence], hub_id: str) -> Geofence | None:
    """The hub's own geofence, else a fleet-wide one (no hub), else None. Raises
    :class:`~ground_control.domain.geofence.GeofenceError` for a stored fence missions cannot
    carry (e.g. one stored before the API checked the protocol's limits)."""
    fences = list(fences)
    chosen = next((f for f in fences if f.hub_id == hub_id), None) or next((f for f in fences if f.hub_id is None), None)
    return protocol_geofence(chosen.geojson) if chosen else None


def geofence_spec(fence: Geofence | None, safety_margin_m: float = 10.0) -> GeofenceSpec | None:
    if fence is None:
        return None
    def pts(poly: Polygon) -> tuple[Point, ...]:
        return tuple(Point(v.lat, v.lon) for v in poly.vertices)
    return GeofenceSpec(inclusion=pts(fence.inclusion), exclusions=tuple(pts(e) for e in fence.exclusions),
                        safety_margin_m=safety_margin_m, ceiling_m=fence.ceiling_m)


def mission_altitudes(settings: Settings, fence: Geofence | None, drone: bool) -> tuple[float, float]:
    """(cruise, drop) altitudes a mission carries: the settings', cruise kept under 90 % of the
    fence ceiling (no fence: the box fence's 120 m). Robots: (0, 0)."""
    if not drone:
        return 0.0, 0.0
    ceiling = fence.ceiling_m if fence is not None else 120.0
    cruise = min(settings.cruise_alt_m, ceiling * 0.9)
    return cruise, min(settings.drop_alt_m, cruise)


def flight_profile(settings: Settings) -> FlightProfile:
    """The planner's drone overheads at the altitudes missions are flown at, so its energy
    estimate is the edge agent's (``estimate_energy_wh``). Missions under a low fence ceiling
    fly lower than this, which only makes the planner's estimate the larger one (safe side)."""
    cruise, drop = mission_altitudes(settings, None, drone=True)
    return FlightProfile(cruise_alt_m=cruise, drop_alt_m=drop)


def make_dispatch_planner(settings: Settings, kind: str | None = None) -> RoutePlanner:
    """The planner dispatch (and the dry-run ``POST /plans``) uses: ``kind`` or the settings',
    with the missions' flight profile and a travel-cost cache kept as long as the planner."""
    return make_planner(kind or settings.planner_kind, flight=flight_profile(settings), cache=CostCache())


def plan_objective(settings: Settings) -> Objective:
    """What plans minimise, from the settings (``planner_objective`` and the waiting price)."""
    if settings.planner_objective == "distance":
        return Objective()
    return Objective(kind=ObjectiveKind.time,
                     wait_cost_per_parcel_min=settings.planner_wait_cost_per_parcel_min,
                     priority_wait_factor=settings.planner_priority_wait_factor)


def box_fence(points: Iterable[Point], margin_deg: float, ceiling_m: float = 120.0) -> Geofence:
    """No geofence configured: a box around the hub and everything on the route, so the
    vehicle still carries (and its autopilot enforces) a fence."""
    pts = list(points)
    lat0, lat1 = max(-90.0, min(p.lat for p in pts) - margin_deg), min(90.0, max(p.lat for p in pts) + margin_deg)
    lon0, lon1 = max(-180.0, min(p.lon for p in pts) - margin_deg), min(180.0, max(p.lon for p in pts) + margin_deg)
    ring = [LatLon(lat=lat0, lon=lon0), LatLon(lat=lat0, lon=lon1), LatLon(lat=lat1, lon=lon1), LatLon(lat=lat1, lon=lon0)]
    return Geofence(inclusion=Polygon(vertices=ring), ceiling_m=ceiling_m)


def build_request(hubs: list[m.Hub], vehicles: list[m.Vehicle], parcels: list[m.Parcel], fence: Geofence | None,
                  settings: Settings, now: datetime, *, time_limit_s: float | None = None,
                  seed: int = 0, prices: Mapping[VehicleKind, VehiclePrices] | None = None) -> PlanRequest:
    """DB rows -> the planner's request: THE one place this is done (dispatch and the dry-run
    ``POST /plans`` both come here). ``fence`` is the protocol geofence from :func:`fence_for`;
    no-fly zones are buffered by ``settings.planner_safety_margin_m``. ``prices``: the kinds'
    prices (``dispatch.pricing.load_prices``; default the planner's), used by the time objective."""
    specs = tuple(vehicle_spec(v) for v in vehicles)
    objective = plan_objective(settings)
    if objective.kind is ObjectiveKind.time:
        table = prices or DEFAULT_PRICES
        specs = tuple(priced(v, table[v.kind]) for v in specs)
    return PlanRequest(
        hubs=tuple(hub_spec(h) for h in hubs), vehicles=specs, objective=objective,
        parcels=tuple(parcel_spec(p, now) for p in parcels),
        geofence=geofence_spec(fence, settings.planner_safety_margin_m),
        time_limit_s=settings.planner_time_limit_s if time_limit_s is None else time_limit_s, seed=seed,
    )


def _ll(p: Point) -> LatLon:
    return LatLon(lat=p.lat, lon=p.lon)


def route_to_mission(route: Route, vehicle: m.Vehicle, hub: m.Hub, parcels: dict[str, m.Parcel],
                     fence: Geofence | None, settings: Settings, now: datetime, mission_id: str | None = None) -> Mission:
    """Stop.path = the intermediate waypoints of the leg that ends at that stop; return_path =
    those of the last leg back to the hub (endpoints excluded, as the protocol says)."""
    drone = vehicle.type == "drone"
    stops = []
    for i, ps in enumerate(route.stops):
        p = parcels[ps.parcel_id]
        leg = route.legs[i] if i < len(route.legs) else None
        stops.append(Stop(
            parcel_id=p.id, drop_off=LatLon(lat=p.drop_off[0], lon=p.drop_off[1]),
            action=StopAction.release if drone else StopAction.handover, weight_kg=p.weight_kg,
            path=[_ll(pt) for pt in leg.path[1:-1]] if leg else [],
        ))
    last = route.legs[-1] if len(route.legs) > len(route.stops) else None
    return_path = [_ll(pt) for pt in last.path[1:-1]] if last else []
    if fence is None:
        pts = [Point(hub.lat, hub.lon)] + [Point(s.drop_off.lat, s.drop_off.lon) for s in stops]
        pts += [Point(w.lat, w.lon) for s in stops for w in s.path] + [Point(w.lat, w.lon) for w in return_path]
        fence = box_fence(pts, settings.geofence_margin_deg)
    cruise, drop = mission_altitudes(settings, fence, drone)
    return Mission(
        mission_id=mission_id or f"m-{uuid.uuid4().hex[:16]}", vehicle_id=vehicle.id,
        vehicle_type=VehicleType.drone if drone else VehicleType.robot,
        hub=ProtoHub(hub_id=hub.id, position=LatLon(lat=hub.lat, lon=hub.lon)),
        stops=stops, return_path=return_path, geofence=fence, cruise_alt_m=cruise, drop_alt_m=drop,
        cruise_speed_mps=min(vehicle.cruise_speed_mps, 100.0), expires_at=now + timedelta(seconds=settings.mission_expiry_s),
    )
