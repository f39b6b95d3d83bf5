"""What happens to parcels when a mission dies (rejected, never acknowledged, vehicle lost,
vehicle back with parcels aboard): each goes back to planning through the state machine, in the
caller's transaction, so a mission is never half failed."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import Command, Event, Mission, Parcel, TelemetryLatest, Vehicle, utcnow
from ground_control.db.repositories import apply_transitions
from ground_control.domain.parcel_lifecycle import ParcelState, back_to_planning

log = logging.getLogger(__name__)

ACTIVE_MISSION_STATES = ("sent", "accepted", "started")
#: fail_reason prefix of missions failed because their vehicle went offline (it may still fly them)
LOST_PREFIX = "vehicle lost mid-mission: "
#: operator commands after which a lost vehicle is no longer held back from planning
RELEASING_COMMANDS = ("abort", "return_to_hub", "land_now")


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
        replan += await fail_mission(session, m, LOST_PREFIX + reason, max_attempts=max_attempts)
    if missions:
        log.warning("vehicle %s lost (%s): %d mission(s) failed, %d parcel(s) back to planning",
                    vehicle_id, reason, len(missions), len(replan))
    return replan


async def vehicles_still_out(session: AsyncSession) -> set[str]:
    """Vehicles that went offline mid-mission and may still be flying it: their mission failed
    (parcels re-planned) but no ``returned`` event for it and no operator command (abort,
    return_to_hub, land_now) since. They get no new mission: the agent would refuse it as busy
    and the parcels would bounce. Released early when telemetry heard since the vehicle came
    back online names no mission or another one (the agent restarted or finished while away)."""
    returned = select(Event.id).where(Event.kind == "returned", Event.mission_id == Mission.id).exists()
    commanded = select(Command.id).where(
        Command.vehicle_id == Mission.vehicle_id, Command.created_at >= Mission.updated_at,
        Command.action.in_(RELEASING_COMMANDS), ~Command.id.startswith("abort-"),   # not our own auto-aborts
    ).exists()
    rows = (await session.execute(
        select(Mission.id, Mission.vehicle_id, TelemetryLatest.mission_id, TelemetryLatest.received_at,
               Vehicle.online_changed_at)
        .join(Vehicle, Vehicle.id == Mission.vehicle_id)
        .outerjoin(TelemetryLatest, TelemetryLatest.vehicle_id == Mission.vehicle_id)
        .where(Mission.state == "failed", Mission.fail_reason.startswith(LOST_PREFIX), ~returned, ~commanded)
    )).all()
    out: set[str] = set()
    for mission_id, vehicle_id, tel_mission, tel_at, back_at in rows:
        heard_since_back = tel_at is not None and back_at is not None and tel_at > back_at
        if heard_since_back and tel_mission != mission_id:
            continue
        out.add(vehicle_id)
    return out
