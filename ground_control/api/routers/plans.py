"""Dry-run planning: what the dispatcher would plan, as GeoJSON, with nothing persisted and
nothing sent. It goes through the dispatcher's own code path (``dispatch.rounds.plan_rounds``
-> ``mission_builder.build_request``: same grouping per hub and per excluded vehicles, same
geofence and safety margin, same flight profile)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field
from sqlalchemy import select

from ground_control.api.deps import Session
from ground_control.api.schemas import _In
from ground_control.api.types import Id
from ground_control.db.models import Geofence, Hub, Parcel, Vehicle, utcnow
from ground_control.db.repositories import Conflict, NotFound
from ground_control.dispatch.dispatcher import MAX_PARCELS_PER_ROUND
from ground_control.dispatch.mission_builder import make_dispatch_planner
from ground_control.dispatch.pricing import load_prices
from ground_control.dispatch.rounds import plan_rounds
from ground_control.domain.parcel_lifecycle import ParcelState
from ground_control.planning import Route, UnplannedReason
from ground_control.planning.day_plan import DayPlanner
from ground_control.settings import Settings

router = APIRouter(tags=["plans"])
ERR = {404: {"description": "unknown parcel or vehicle ids"},
       409: {"description": "no vehicle to plan with, or parcels not in `created`"},
       422: {"description": "invalid input (bounds)"}}


class PlanCreate(_In):
    """Everything optional: all parcels in ``created`` on all enabled vehicles (online or not)
    with the configured planner."""

    parcel_ids: list[Id] | None = Field(default=None, min_length=1, max_length=MAX_PARCELS_PER_ROUND,
                                        description="parcels to plan (each must be in `created`); default: all in `created`")
    vehicle_ids: list[Id] | None = Field(default=None, min_length=1, max_length=500,
                                         description="vehicles to plan with, enabled or not; default: every enabled vehicle")
    only_online: bool = Field(default=False, description="leave out vehicles that are offline now")
    planner: Literal["pyvrp", "greedy"] | None = Field(default=None, description="default: FLEET_PLANNER_KIND")
    time_limit_s: float | None = Field(default=None, ge=0.1, le=30.0,
                                       description="solver time per hub group; default: FLEET_PLANNER_TIME_LIMIT_S")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    whole_day: bool = Field(default=False, description="pyvrp only: also plan later trips (back at the hub, "
                            "battery swapped, FLEET_PLANNER_TURNAROUND_S), so every feasible parcel gets an ETA")


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def route_feature(route: Route, now: Any) -> dict[str, Any]:
    """One LineString per route: hub -> stops -> hub along the planned leg paths (lon, lat)."""
    coords: list[list[float]] = []
    for leg in route.legs:
        pts = [[p.lon, p.lat] for p in leg.path]
        if coords and pts and coords[-1] == pts[0]:
            pts = pts[1:]
        coords.extend(pts)
    if len(coords) < 2:   # degenerate (should not happen: a route has >= 2 legs)
        coords = coords * 2 if coords else coords
    stops = [{"parcel_id": s.parcel_id, "lat": s.position.lat, "lon": s.position.lon, "eta_s": round(s.eta_s, 1),
              "eta": (now + timedelta(seconds=s.eta_s)).isoformat()} for s in route.stops]
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
            "properties": {"kind": "route", "vehicle_id": route.vehicle_id, "hub_id": route.hub_id,
                           "parcel_ids": [s.parcel_id for s in route.stops],
                           "distance_m": round(route.distance_m, 1), "energy_wh": round(route.energy_wh, 2),
                           "duration_s": round(route.duration_s, 1), "stops": stops,
                           "trip": route.trip, "depart_s": round(route.depart_s, 1)}}


def stop_features(route: Route) -> list[dict[str, Any]]:
    return [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [s.position.lon, s.position.lat]},
             "properties": {"kind": "stop", "vehicle_id": route.vehicle_id, "parcel_id": s.parcel_id, "seq": i,
                            "eta_s": round(s.eta_s, 1)}} for i, s in enumerate(route.stops)]


@router.post("/plans", responses={200: {"description": "GeoJSON FeatureCollection with `unplanned`, `cost`, `solve_s`, "
                                                       "`hub_errors`"},
                                  **ERR})
async def dry_run_plan(body: PlanCreate, session: Session, request: Request) -> dict[str, Any]:
    """Plan now, persist nothing, send nothing. Answers a GeoJSON FeatureCollection: one
    LineString per route (properties: vehicle_id, hub_id, parcel_ids in order, distance_m,
    energy_wh, duration_s, stops with ETAs) along the planned paths, a Point per stop, and the
    foreign members ``unplanned`` ({parcel_id: reason}), ``cost``, ``solve_s`` and ``hub_errors``
    ({hub_id: reason} for hubs that could not be planned at all, e.g. an unusable geofence: their
    parcels are unplanned with ``geofence_unusable``, the other hubs are planned as usual)."""
    settings: Settings = request.app.state.settings
    now = utcnow()
    if body.parcel_ids is not None:
        ids = _unique(body.parcel_ids)
        parcels = list((await session.scalars(select(Parcel).where(Parcel.id.in_(ids)))).all())
        found = {p.id for p in parcels}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"unknown parcel ids: {missing}")
        wrong = {p.id: p.state for p in parcels if p.state != ParcelState.created.value}
        if wrong:
            raise Conflict(f"only parcels in `created` can be planned; these are not: {wrong}")
        order = {pid: i for i, pid in enumerate(ids)}
        parcels.sort(key=lambda p: order[p.id])
    else:
        parcels = list((await session.scalars(
            select(Parcel).where(Parcel.state == ParcelState.created.value)
            .order_by(Parcel.priority.desc(), Parcel.created_at, Parcel.id).limit(MAX_PARCELS_PER_ROUND))).all())

    if body.vehicle_ids is not None:
        vids = _unique(body.vehicle_ids)
        vehicles = list((await session.scalars(select(Vehicle).where(Vehicle.id.in_(vids)).order_by(Vehicle.id))).all())
        missing = [i for i in vids if i not in {v.id for v in vehicles}]
        if missing:
            raise NotFound(f"unknown vehicle ids: {missing}")
    else:
        vehicles = list((await session.scalars(
            select(Vehicle).where(Vehicle.enabled.is_(True)).order_by(Vehicle.id))).all())
    if body.only_online:
        vehicles = [v for v in vehicles if v.online]
    if not vehicles:
        raise Conflict("no vehicles to plan with" + (" (none online)" if body.only_online else ""))

    hubs = {h.id: h for h in (await session.scalars(select(Hub))).all()}
    fences = list((await session.scalars(select(Geofence))).all())
    prices = await load_prices(session)
    kind = body.planner or settings.planner_kind
    planner = make_dispatch_planner(settings, kind)
    if body.whole_day and kind == "pyvrp":
        planner = DayPlanner(planner, turnaround_s=settings.planner_turnaround_s)
    features: list[dict[str, Any]] = []
    unplanned: dict[str, str] = {}
    cost = solve_s = waiting = 0.0
    planned: set[str] = set()
    hub_errors: dict[str, str] = {}
    async for rnd in plan_rounds(planner, hubs, vehicles, parcels, fences, settings, now,
                                 time_limit_s=body.time_limit_s, seed=body.seed, prices=prices):
        if rnd.problem is not None:
            hub_errors[rnd.hub.id] = rnd.problem
        cost += rnd.plan.cost
        waiting += rnd.plan.waiting_cost
        solve_s += rnd.plan.solve_s
        unplanned.update({pid: str(r) for pid, r in rnd.plan.unplanned.items()})
        for route in rnd.plan.routes + rnd.plan.later:
            if not route.stops:
                continue
            features.append(route_feature(route, now))
            features.extend(stop_features(route))
            planned.update(s.parcel_id for s in route.stops)
    # parcels no group was planned for: no (usable) vehicle at their hub
    for p in parcels:
        if p.id not in planned and p.id not in unplanned:
            unplanned[p.id] = str(UnplannedReason.no_vehicle)
    out = {"type": "FeatureCollection", "features": features, "unplanned": unplanned,
           "cost": round(cost, 3), "solve_s": round(solve_s, 3), "planner": kind,
           "objective": settings.planner_objective, "waiting_cost": round(waiting, 3),
           "vehicle_ids": [v.id for v in vehicles], "parcel_count": len(parcels), "hub_errors": hub_errors}
    await session.rollback()   # read-only: make sure nothing is left to flush
    return out
