"""What happens to a mission's parcels when the mission ends without delivering them, in the
caller's transaction, so a mission is never half failed.

Custody rule: a vehicle going offline changes nothing here ("offline" means "we cannot hear
it"). Parcels leave a vehicle only through the vehicle's own events (rejected, delivered,
delivery_failed, returned), after an operator command it acknowledges (its ``returned`` then
brings the parcels back), or through an operator's explicit :func:`declare_lost`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import Command, Mission, Parcel, Vehicle, utcnow
from ground_control.db.repositories import apply_transitions
from ground_control.domain.exclusions import Exclusion, with_exclusion
from ground_control.domain.parcel_lifecycle import ParcelState, back_to_planning, on_declared_lost

log = logging.getLogger(__name__)

ACTIVE_MISSION_STATES = ("sent", "accepted", "started")


async def mission_parcels(session: AsyncSession, mission_id: str) -> list[Parcel]:
    """Parcels currently assigned to the mission (a reassigned parcel no longer is)."""
    rows = await session.scalars(select(Parcel).where(Parcel.mission_id == mission_id).order_by(Parcel.id))
    return list(rows.all())


def exclude(p: Parcel, exclusion: Exclusion) -> None:
    """Record that ``exclusion``'s vehicle must not get ``p`` (for now, or for good)."""
    p.exclusions = with_exclusion(p.exclusions, exclusion)
    if exclusion["vehicle_id"] not in (p.excluded_vehicles or []):
        p.excluded_vehicles = [*(p.excluded_vehicles or []), exclusion["vehicle_id"]]


async def release_parcels(
    session: AsyncSession, mission: Mission, reason: str, *, max_attempts: int, exclusion: Exclusion | None = None,
    event_id: str | None = None, keep: set[str] | None = None, at: datetime | None = None,
) -> list[str]:
    """Send the mission's undelivered parcels back to planning (or to ``returned`` when their
    delivery attempts are used up), except those in ``keep``. Returns the ids that went back to
    ``created``."""
    replan: list[str] = []
    for p in await mission_parcels(session, mission.id):
        if keep and p.id in keep:
            continue
        targets = back_to_planning(ParcelState(p.state), p.attempts, max_attempts)
        if not targets:
            continue
        target = targets[0]
        if exclusion is not None:
            exclude(p, exclusion)
        apply_transitions(session, p, target, reason, event_id=event_id, at=at)
        if target is ParcelState.returned:
            # off the mission, but keep who had it last for the record
            p.mission_id = None
        if target is ParcelState.created:
            replan.append(p.id)
    return replan


async def fail_mission(
    session: AsyncSession, mission: Mission, reason: str, *, max_attempts: int, exclusion: Exclusion | None = None,
    event_id: str | None = None,
) -> list[str]:
    """For a mission whose parcels never left the hub (rejected, never accepted, cancelled)."""
    mission.state = "failed"
    mission.fail_reason = reason[:2000]
    mission.updated_at = utcnow()
    return await release_parcels(session, mission, f"mission {mission.id} failed: {reason}",
                                 max_attempts=max_attempts, exclusion=exclusion, event_id=event_id)


def queue_abort(session: AsyncSession, m: Mission, why: str) -> None:
    """Tell the vehicle not to fly (or to stop flying) a mission we have given up on: a copy
    may have reached it although it never said so."""
    session.add(Command(id=f"abort-{m.id}"[:47] + f"-{uuid.uuid4().hex[:16]}", vehicle_id=m.vehicle_id,
                        action="abort", mission_id=m.id))
    log.warning("abort queued for mission %s of %s: %s", m.id, m.vehicle_id, why)


async def active_missions(session: AsyncSession, vehicle_id: str) -> list[Mission]:
    return list((await session.scalars(
        select(Mission).where(Mission.vehicle_id == vehicle_id, Mission.state.in_(ACTIVE_MISSION_STATES))
        .order_by(Mission.created_at))).all())


async def set_reachable(session: AsyncSession, vehicle_id: str, reachable: bool, now: datetime) -> int:
    """Record on the vehicle's active missions that we can (not) hear it. Nothing else changes:
    the missions stay active and their parcels aboard. Returns how many missions it marked."""
    missions = await active_missions(session, vehicle_id)
    for m in missions:
        m.unreachable_since = None if reachable else (m.unreachable_since or now)
    if missions and not reachable:
        log.warning("vehicle %s unreachable with %d active mission(s); parcels stay aboard until it is heard "
                    "again or an operator declares it lost", vehicle_id, len(missions))
    return len(missions)


async def declare_lost(session: AsyncSession, vehicle: Vehicle, reason: str, now: datetime) -> dict[str, list[str]]:
    """An operator's explicit decision: the vehicle (and what it carries) is lost. Its active
    missions fail; parcels aboard become ``lost`` (kept on the mission, so the vehicle's own late
    proof or ``returned`` still counts); parcels only promised to it (mission never accepted) go
    back to planning and the vehicle is told to abort that mission; the vehicle is disabled
    until an operator re-enables it."""
    why = f"operator declared vehicle {vehicle.id} lost: {reason}"
    out: dict[str, list[str]] = {"missions_failed": [], "parcels_replanned": [], "parcels_lost": []}
    for m in await active_missions(session, vehicle.id):
        never_accepted = m.state == "sent"
        m.state, m.fail_reason, m.updated_at = "failed", why[:2000], now
        out["missions_failed"].append(m.id)
        for p in await mission_parcels(session, m.id):
            target = on_declared_lost(ParcelState(p.state))
            if target is None:
                continue
            apply_transitions(session, p, target, why, at=now)
            out["parcels_lost" if target is ParcelState.lost else "parcels_replanned"].append(p.id)
        if never_accepted:
            queue_abort(session, m, why)
    vehicle.enabled = False
    vehicle.lost_at, vehicle.lost_reason = now, reason[:2000]
    log.warning("%s: %s", why, out)
    return out
