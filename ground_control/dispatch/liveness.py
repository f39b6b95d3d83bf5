"""Is a vehicle online? Its agent says so (retained status, whose last will says offline) AND
its telemetry is not silent: amqtt never fires wills, and a hung agent keeps its TCP session.
A vehicle that drops from online to offline loses its active missions to re-planning."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import TelemetryLatest, Vehicle
from ground_control.dispatch.reassign import vehicle_lost


def verdict(v: Vehicle, last_telemetry: datetime | None, now: datetime, silence_s: float) -> bool:
    if v.status_state != "online":
        return False
    heard = max(t for t in (last_telemetry, v.status_at) if t is not None) if (last_telemetry or v.status_at) else None
    return heard is not None and now - heard <= timedelta(seconds=silence_s)


async def update_liveness(session: AsyncSession, now: datetime, silence_s: float, max_attempts: int,
                          vehicle_ids: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Re-judge vehicles (all, or the given ones). Returns (came online, went offline) ids;
    the caller commits."""
    stmt = select(Vehicle, TelemetryLatest.received_at).outerjoin(
        TelemetryLatest, TelemetryLatest.vehicle_id == Vehicle.id)
    if vehicle_ids is not None:
        stmt = stmt.where(Vehicle.id.in_(vehicle_ids))
    up: list[str] = []
    down: list[str] = []
    for v, last in (await session.execute(stmt)).all():
        online = verdict(v, last, now, silence_s)
        if online == v.online:
            continue
        v.online = online
        v.online_changed_at = now
        if online:
            up.append(v.id)
        else:
            down.append(v.id)
            reason = "vehicle offline (last will)" if v.status_state == "offline" else f"telemetry silent for {silence_s:.0f}s"
            await vehicle_lost(session, v.id, reason, max_attempts=max_attempts)
    return up, down
