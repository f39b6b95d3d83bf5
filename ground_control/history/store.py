"""telemetry_history in the database: the batched insert (in the caller's transaction, beside
the latest-position upsert) and the retention job. On PostgreSQL the job creates the coming
days' partitions and drops those past retention, under an advisory lock so replicas running
it at the same time take turns; on SQLite it deletes old rows."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import delete, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import telemetry_history
from ground_control.history.partitions import TABLE, cutoff, plan

log = logging.getLogger(__name__)

#: partitions prepared ahead of today: maintenance can pause this long before samples fall back
#: into the default partition
AHEAD_DAYS = 2
#: any constant shared by every replica
MAINTENANCE_LOCK_KEY = 0x4C4D47
_COLUMNS = [c.name for c in telemetry_history.columns]


def history_row(row: dict[str, Any]) -> dict[str, Any]:
    """The history columns of a telemetry row (ingest.telemetry.telemetry_row)."""
    return {c: row.get(c) for c in _COLUMNS}


async def insert_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(telemetry_history), [history_row(r) for r in rows])


async def maintain(session: AsyncSession, now: datetime, keep_days: int) -> dict[str, list[str] | int]:
    """Apply retention (and, on PostgreSQL, prepare the coming days). Commits."""
    if session.bind.dialect.name != "postgresql":
        res = await session.execute(delete(telemetry_history).where(telemetry_history.c.received_at < cutoff(now, keep_days)))
        await session.commit()
        return {"deleted": res.rowcount or 0}
    await session.execute(text(f"SELECT pg_advisory_xact_lock({MAINTENANCE_LOCK_KEY})"))
    existing = list((await session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t"), {"t": TABLE})).all())
    create, drop = plan(existing, now.date(), keep_days, AHEAD_DAYS)
    created: list[str] = []
    for p in create:
        try:
            async with session.begin_nested():   # a day already in the default partition: log, go on
                await session.execute(text(
                    f"CREATE TABLE IF NOT EXISTS {p.name} PARTITION OF {TABLE} "
                    f"FOR VALUES FROM ('{p.start.isoformat()}') TO ('{p.end.isoformat()}')"))
            created.append(p.name)
        except Exception as exc:  # noqa: BLE001 - samples of that day stay in the default partition
            log.warning("telemetry history: partition %s not created: %s", p.name, exc)
    for p in drop:
        await session.execute(text(f"DROP TABLE IF EXISTS {p.name}"))
    res = await session.execute(text(f"DELETE FROM {TABLE}_default WHERE received_at < :c"), {"c": cutoff(now, keep_days)})
    await session.commit()
    if created or drop:
        log.info("telemetry history: created %s, dropped %s", created, [p.name for p in drop])
    return {"created": created, "dropped": [p.name for p in drop], "deleted": res.rowcount or 0}
