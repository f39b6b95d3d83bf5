"""What happens to parcels when a mission dies (rejected, never acknowledged, vehicle lost,
vehicle back with parcels aboard): each goes back to planning through the state machine, in the
caller's transaction, so a mission is never half failed."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import Mission, Parcel, utcnow
from ground_control.db.repositories import apply_transitions
from ground_control.domain.parcel_lifecycle import ParcelState, back_to_planning

log = logging.getLogger(__name__)

ACTIVE_MISSION_STATES = ("sent", "accepted", "started")


async def mission_parcels(session: AsyncSession, mission_id: str) -> list[Parcel]:
    """Parcels currently assigned to the mission (a reassigned parcel no longer is)."""
    rows = await session.scalars(select(Parcel).where(Parcel.mission_id == mission_id).order_by(Parcel.id))
    return list(rows.all())


async def release_parcels(
    session: AsyncSession, mission: Mission, reason: str, *, max_attempts: int, exclude_vehicle: bool = False,
    event_id: str | None = None, only: set[str] | None = None, at: datetime | None = None,
) -> list[str]:
    """Send the mission's undelivered parcels back to planning (or to ``returned`` when their
    delivery attempts are used up). Returns the ids that went back to ``created``."""
    replan: list[str] = []
    for p in await mission_parcels(session, mission.id):
        if only is not None and p.id not in only and p.state != ParcelState.delivery_failed.value:
            continue
        targets = back_to_planning(ParcelState(p.state), p.attempts, max_attempts)
        if not targets:
            continue
        target = targets[0]
        if exclude_vehicle and mission.vehicle_id not in (p.excluded_vehicles or []):
            p.excluded_vehicles = [*(p.excluded_vehicles or []), mission.vehicle_id]
        apply_transitions(session, p, target, reason, event_id=event_id, at=at)
        if target is ParcelState.returned:
            # off the mission, but keep who had it last for the record
            p.mission_id = None
        if target is ParcelState.created:
            replan.append(p.id)
    return replan


async def fail_mission(
    session: AsyncSession, mission: Mission, reason: str, *, max_attempts: int, exclude_vehicle: bool = False,
    event_id: str | None = None,
) -> list[str]:
    mission.state = "failed"
    mission.fail_reason = reason[:2000]
    mission.updated_at = utcnow()
    return await release_parcels(session, mission, f"mission {mission.id} failed: {reason}",
                                 max_attempts=max_attempts, exclude_vehicle=exclude_vehicle, event_id=event_id)


async def vehicle_lost(session: AsyncSession, vehicle_id: str, reason: str, *, max_attempts: int) -> list[str]:
    """A vehicle went offline: fail its active missions, their undelivered parcels go back."""
    missions = (await session.scalars(
        select(Mission).where(Mission.vehicle_id == vehicle_id, Mission.state.in_(ACTIVE_MISSION_STATES))
    )).all()
    replan: list[str] = []
    for m in missions:
        replan += await fail_mission(session, m, reason, max_attempts=max_attempts)
    if missions:
        log.warning("vehicle %s lost (%s): %d mission(s) failed, %d parcel(s) back to planning",
                    vehicle_id, reason, len(missions), len(replan))
    return replan
