"""Which vehicle could serve which parcel on its own, and why a parcel no vehicle can serve is
left out. Shared by every planner so they give the same reasons for the same request."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from typing import TYPE_CHECKING

from ground_control.planning.costs import TravelCosts, build_costs
from ground_control.planning.energy import FlightProfile
from ground_control.planning.model import ParcelSpec, PlanRequest, UnplannedReason, VehicleSpec

if TYPE_CHECKING:
    from ground_control.planning.cost_cache import CostCache

_EPS = 1e-6


def parcel_hubs(p: ParcelSpec) -> tuple[str, ...]:
    return (p.hub_id, *p.alt_hub_ids)


def time_limit(v: VehicleSpec, request: PlanRequest) -> float:
    """Latest return time at the hub for a vehicle leaving at 0."""
    lim = math.inf
    if v.max_duration_s is not None:
        lim = v.max_duration_s
    if request.horizon_s is not None:
        lim = min(lim, request.horizon_s)
    return lim


def within_time(v: VehicleSpec, request: PlanRequest, depart_s: float, end_s: float) -> bool:
    """Back by the horizon, and out no longer than the vehicle's shift."""
    if request.horizon_s is not None and end_s > request.horizon_s + _EPS:
        return False
    return v.max_duration_s is None or end_s - depart_s <= v.max_duration_s + _EPS


@dataclass
class Screening:
    candidates: dict[str, list[VehicleSpec]]     # parcel id -> vehicles that can serve it alone
    unplanned: dict[str, UnplannedReason]


def screen(request: PlanRequest, costs: TravelCosts, exclude: frozenset[str] = frozenset()
           ) -> Screening:
    """Check each parcel against each available vehicle of its hubs, in the order of the reasons
    (no vehicle, outside area, too heavy, out of range, time window), keeping the last stage any
    vehicle passed as the reason when none passes all. ``exclude``: parcels handled elsewhere."""
    # vehicles with the same specs at the same hub pass or fail together: test one per class
    by_hub: dict[str, dict[tuple, list[VehicleSpec]]] = {}
    for v in request.vehicles:
        if v.available:
            key = (v.kind, v.payload_kg, v.max_distance_m, v.speed_mps, v.max_duration_s, v.ready_s)
            by_hub.setdefault(v.hub_id, {}).setdefault(key, []).append(v)
    dists = {k: costs.dist(k) for k in costs.routers}
    candidates: dict[str, list[VehicleSpec]] = {}
    unplanned: dict[str, UnplannedReason] = {}
    for p in request.parcels:
        if p.parcel_id in exclude:
            continue
        j = costs.parcel_index[p.parcel_id]
        stage, ok = 0, []
        for hub in parcel_hubs(p):
            h = costs.hub_index.get(hub)
            for group in by_hub.get(hub, {}).values() if h is not None else []:
                v = group[0]
                d = dists[v.kind]
                go, back = d[h, j], d[j, h]
                s = 1
                if np.isfinite(go) and np.isfinite(back):
                    s = 2
                    if p.weight_kg <= v.payload_kg + _EPS:
                        s = 3
                        start_oh, stop_oh = costs.overheads(v)
                        if go + back + start_oh + stop_oh <= costs.budget(v) + _EPS:
                            s = 4
                            if _direct_on_time(p, v, go, back, request, costs):
                                s = 5
                stage = max(stage, s)
                if s == 5:
                    ok.extend(group)
        if ok:
            candidates[p.parcel_id] = ok
        else:
            unplanned[p.parcel_id] = (UnplannedReason.no_vehicle, UnplannedReason.outside_area,
                                      UnplannedReason.too_heavy, UnplannedReason.out_of_range,
                                      UnplannedReason.time_window)[stage]
    return Screening(candidates, unplanned)


def _direct_on_time(p: ParcelSpec, v: VehicleSpec, go: float, back: float,
                    request: PlanRequest, costs: TravelCosts) -> bool:
    vt = costs.times(v)
    arrive = vt.takeoff_s + go / v.speed_mps + vt.arrive_s
    start = v.ready_s + arrive
    if p.time_window is not None:
        start = max(start, p.time_window.earliest_s)
    if p.time_window is not None and start > p.time_window.latest_s + _EPS:
        return False
    depart = start - arrive              # leave late rather than wait at the drop-off
    end = start + p.service_s + vt.leave_s + back / v.speed_mps + vt.landing_s
    return within_time(v, request, depart, end)


def committed_prefixes(request: PlanRequest) -> dict[str, list[ParcelSpec]]:
    """Committed parcels of available vehicles, in order; a failed vehicle's parcels are free."""
    by_id = {p.parcel_id: p for p in request.parcels}
    avail = {v.vehicle_id for v in request.vehicles if v.available}
    out: dict[str, list[ParcelSpec]] = {}
    for vid, pids in request.committed.items():
        if vid in avail:
            out[vid] = [by_id[p] for p in pids if p in by_id]
    return out


def prepare(request: PlanRequest, costs: TravelCosts | None, drone_router: str,
            flight: FlightProfile | None, cache: "CostCache | None" = None
            ) -> tuple[TravelCosts, dict[str, list[ParcelSpec]], Screening]:
    """What every solver does first: the travel costs (unless given; from ``cache`` when one
    is kept between passes), the committed prefixes that stay, and the screening of every other
    parcel."""
    if costs is None:
        costs = (cache.costs(request, drone_router, flight) if cache is not None
                 else build_costs(request, drone_router, flight))
    prefixes = committed_prefixes(request)
    fixed = frozenset(p.parcel_id for ps in prefixes.values() for p in ps)
    return costs, prefixes, screen(request, costs, exclude=fixed)
