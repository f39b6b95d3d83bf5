"""Is a vehicle online? Its agent says so (retained status, whose last will says offline) AND
its telemetry is not silent: amqtt never fires wills, and a hung agent keeps its TCP session.
Offline means "we cannot hear it", never "its parcels are free": a vehicle that drops offline
keeps its missions and parcels (the missions are marked unreachable) and gets no new mission;
when it is heard again its events continue the story."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import TelemetryLatest, Vehicle, VehiclePresence
from ground_control.dispatch.reassign import set_reachable


def verdict(v: Vehicle, last_telemetry: datetime | None, now: datetime, silence_s: float,
            listening_since: datetime | None = None) -> bool:
    """Online when the agent said so and we heard from it within ``silence_s``. Silence is
    only counted while we were listening: after a ground-control restart the stored timestamps
    are old, and a vehicle must not be declared lost for our own downtime."""
    if v.status_state != "online":
        return False
    times = [t for t in (last_telemetry, v.status_at, listening_since) if t is not None]
    if not times:
        return False
    return now - max(times) <= timedelta(seconds=silence_s)


async def update_liveness(session: AsyncSession, now: datetime, silence_s: float,
                          vehicle_ids: list[str] | None = None,
                          listening_since: datetime | None = None,
                          hub_ids: set[str] | None = None) -> tuple[list[str], list[str]]:
    """Re-judge vehicles (all, or the given ones, or those of the given hubs: a replica judges
    the vehicles of the hubs it dispatches). Returns (came online, went offline) ids; the caller
    commits."""
    stmt = select(Vehicle, TelemetryLatest.received_at, VehiclePresence).outerjoin(
        TelemetryLatest, TelemetryLatest.vehicle_id == Vehicle.id).outerjoin(
        VehiclePresence, VehiclePresence.vehicle_id == Vehicle.id)
    if vehicle_ids is not None:
        stmt = stmt.where(Vehicle.id.in_(vehicle_ids))
    if hub_ids is not None:
        stmt = stmt.where(Vehicle.hub_id.in_(sorted(hub_ids)))
    up: list[str] = []
    down: list[str] = []
    for v, last, presence in (await session.execute(stmt)).all():
        if presence is not None and (v.status_at is None or presence.at > v.status_at):
            # a status that arrived while the vehicle was being registered (two transactions
            # racing) would otherwise be lost: the retained status is only delivered once
            v.status_state, v.status_at = presence.state, presence.at
        online = verdict(v, last, now, silence_s, listening_since)
        if online == v.online:
            continue
        v.online = online
        v.online_changed_at = now
        (up if online else down).append(v.id)
        await set_reachable(session, v.id, online, now)
    return up, down
