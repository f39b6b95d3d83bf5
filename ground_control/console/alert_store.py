"""Alerts in the database: idempotent insert of drafts (several replicas derive the same ones),
listing and acknowledgement."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.console.alerts import AlertDraft
from ground_control.db.models import Alert


async def store(session: AsyncSession, drafts: Iterable[AlertDraft]) -> int:
    """Insert each draft unless its key is already stored; returns how many were new."""
    rows = [{"key": d.key, "kind": d.kind.value, "severity": d.severity, "vehicle_id": d.vehicle_id,
             "mission_id": d.mission_id, "parcel_id": d.parcel_id, "message": d.message[:2000], "at": d.at}
            for d in drafts]
    if not rows:
        return 0
    dialect = session.bind.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    result = await session.execute(insert(Alert).values(rows).on_conflict_do_nothing(index_elements=["key"]))
    await session.commit()
    return max(result.rowcount or 0, 0)


async def acknowledge(session: AsyncSession, alert: Alert, by: str, now: datetime) -> Alert:
    """First acknowledgement wins (who and when stay as they were); idempotent."""
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, by[:200]
        await session.commit()
    return alert
