"""One planning pass over DB rows, shared by the dispatcher and the dry-run ``POST /plans``:
parcels grouped per hub (each hub has its own geofence) and, within a hub, by the vehicles they
exclude (a vehicle that refused a parcel must not get it back); each group is planned on that
hub's vehicles not used by an earlier group. No session, no MQTT: the caller reads the rows and
decides what to do with each plan (commit missions, or render GeoJSON).

Failures stay with their hub: a hub whose geofence cannot be used, or whose planning raised,
yields a :class:`Round` with ``problem`` set and its parcels unplanned (``geofence_unusable``,
``planning_failed``); the other hubs plan on."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import AsyncIterator, Iterable, Mapping

from fleet_protocol import Geofence
from ground_control.db import models as m
from ground_control.dispatch.mission_builder import build_request, fence_for
from ground_control.planning import Plan, RoutePlanner, UnplannedReason, VehicleKind
from ground_control.planning.prices import VehiclePrices
from ground_control.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Round:
    hub: m.Hub
    fence: Geofence | None             # the protocol geofence missions of this hub carry
    vehicles: dict[str, m.Vehicle]     # the candidates this group was planned on
    parcels: dict[str, m.Parcel]
    plan: Plan
    problem: str | None = None         # why this hub could not be planned (its geofence)


def parcel_groups(parcels: Iterable[m.Parcel]) -> list[tuple[str, list[m.Parcel]]]:
    """(hub id, parcels) groups: per hub, then per set of excluded vehicles (most exclusions
    first), parcels in the caller's order."""
    by_hub: dict[str, dict[frozenset[str], list[m.Parcel]]] = defaultdict(lambda: defaultdict(list))
    for p in parcels:
        by_hub[p.hub_id][frozenset(p.excluded_vehicles or [])].append(p)
    out: list[tuple[str, list[m.Parcel]]] = []
    for hub_id, groups in by_hub.items():
        for _excluded, group in sorted(groups.items(), key=lambda kv: -len(kv[0])):
            out.append((hub_id, group))
    return out


async def plan_rounds(planner: RoutePlanner, hubs: dict[str, m.Hub], vehicles: list[m.Vehicle],
                      parcels: list[m.Parcel], fences: list[m.Geofence], settings: Settings, now: datetime,
                      *, time_limit_s: float | None = None, seed: int = 0,
                      prices: Mapping[VehicleKind, VehiclePrices] | None = None) -> AsyncIterator[Round]:
    """Plan every group (the planner runs in a thread); a vehicle given a route with stops is
    not offered to later groups. A group that cannot be planned (its hub's geofence is unusable,
    or building the request or the planner call raised) yields a Round with ``problem`` set and
    its parcels unplanned (they wait); groups with no candidate vehicle are skipped."""
    used: set[str] = set()
    hub_fences: dict[str, Geofence | None | str] = {}   # hub -> fence, or the reason it has none
    for hub_id, group in parcel_groups(parcels):
        hub = hubs.get(hub_id)
        if hub is None:
            continue
        excluded = set(group[0].excluded_vehicles or [])
        cands = [v for v in vehicles if v.hub_id == hub_id and v.id not in used and v.id not in excluded]
        if not cands:
            continue
        if hub_id not in hub_fences:
            hub_fences[hub_id] = await _usable_fence(fences, hub_id)
        fence = hub_fences[hub_id]
        if isinstance(fence, str):
            yield _unplannable(hub, group, fence, UnplannedReason.geofence_unusable)
            continue
        try:
            request = build_request([hub], cands, group, fence, settings, now, time_limit_s=time_limit_s, seed=seed,
                                    prices=prices)
            plan: Plan = await asyncio.to_thread(planner.plan, request)
        except Exception as exc:  # noqa: BLE001 - a planner bug leaves parcels waiting, not lost
            log.exception("planning failed for hub %s (%d parcels)", hub_id, len(group))
            yield _unplannable(hub, group, f"planning failed: {type(exc).__name__}: {exc}"[:500],
                               UnplannedReason.planning_failed)
            continue
        vmap = {v.id: v for v in cands}
        used.update(r.vehicle_id for r in plan.routes if r.stops and r.vehicle_id in vmap)
        yield Round(hub=hub, fence=fence, vehicles=vmap, parcels={p.id: p for p in group}, plan=plan)


def _unplannable(hub: m.Hub, group: list[m.Parcel], problem: str, reason: UnplannedReason) -> Round:
    return Round(hub=hub, fence=None, vehicles={}, parcels={p.id: p for p in group}, problem=problem,
                 plan=Plan(routes=(), unplanned={p.id: reason for p in group}, cost=0.0, solve_s=0.0))


async def _usable_fence(fences: list[m.Geofence], hub_id: str) -> Geofence | None | str:
    """The hub's protocol geofence (None: no fence), or the reason it cannot be used. Parsing a
    large fence is CPU work: done in a thread so the API keeps answering."""
    try:
        return await asyncio.to_thread(fence_for, fences, hub_id)
    except Exception as exc:  # noqa: BLE001 - one hub's bad fence must not stop the others
        log.error("hub %s: its geofence cannot be used, its parcels wait: %s", hub_id, exc)
        return f"geofence unusable: {exc}"[:500]
