"""Latest-telemetry-per-vehicle, written in batches: at 1-5 Hz per vehicle a row per message
would be the bottleneck, and only the newest sample per vehicle matters for the API. A row the
database refuses costs only its own vehicle's sample (see :mod:`ground_control.ingest.batches`);
a database outage keeps the samples for the next flush. With ``history`` on, the same flush also
appends the samples to ``telemetry_history`` in the same transaction (ground_control.history):
one sample per vehicle per flush interval, i.e. every sample at 1-5 Hz and the default 0.2 s."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Awaitable, Callable, Sequence

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ground_control.db.models import TelemetryLatest
from ground_control.history.store import insert_rows as insert_history
from ground_control.ingest.batches import write_isolating

log = logging.getLogger(__name__)

_COLUMNS = tuple(c.name for c in TelemetryLatest.__table__.columns)
_UPDATED = tuple(c for c in _COLUMNS if c != "vehicle_id")


def telemetry_row(vehicle_id: str, body: Any, ts: datetime, received_at: datetime) -> dict[str, Any]:
    return {
        "vehicle_id": vehicle_id, "lat": body.position.lat, "lon": body.position.lon, "alt_m": body.position.alt_m,
        "heading_deg": body.heading_deg, "ground_speed_mps": body.ground_speed_mps, "battery_pct": body.battery_pct,
        "mode": body.mode, "armed": body.armed, "gps_fix": body.gps_fix, "agent_state": body.agent_state,
        "mission_id": body.mission_id, "ts": ts, "received_at": received_at,
    }


class TelemetryBuffer:
    """Keeps the newest sample per vehicle until the next flush (an upsert of all of them)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession],
                 on_refused: Callable[[dict[str, Any], BaseException], Awaitable[None]] | None = None,
                 history: bool = False) -> None:
        self.sessionmaker = sessionmaker
        self.history = history
        self.pending: dict[str, dict[str, Any]] = {}
        self.written = 0
        # a row the database refuses for good: handed here (ingest dead-letters it)
        self.on_refused = on_refused
        # vehicles whose last row was refused: written on their own next time, so a vehicle
        # that keeps sending such rows costs one extra small transaction per flush, not a split
        self.suspects: set[str] = set()

    def add(self, row: dict[str, Any]) -> None:
        old = self.pending.get(row["vehicle_id"])
        if old is None or old["ts"] <= row["ts"]:
            self.pending[row["vehicle_id"]] = row

    def __len__(self) -> int:
        return len(self.pending)

    async def flush(self) -> int:
        """Upsert the pending samples; returns how many were written. A transient failure
        raises and keeps the samples (newer ones that arrived meanwhile win)."""
        if not self.pending:
            return 0
        rows, self.pending = list(self.pending.values()), {}
        try:
            refused = await write_isolating([r for r in rows if r["vehicle_id"] not in self.suspects], self._upsert)
            for row in (r for r in rows if r["vehicle_id"] in self.suspects):
                refused += await write_isolating([row], self._upsert)
        except Exception:
            for row in rows:
                self.add(row)
            raise
        self.suspects = {row["vehicle_id"] for row, _exc in refused}
        for row, exc in refused:
            log.debug("telemetry of %s refused by the database: %s", row["vehicle_id"], exc)
            if self.on_refused is not None:
                await self.on_refused(row, exc)
        written = len(rows) - len(refused)
        self.written += written
        return written

    async def _upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        # on the Core table, not the ORM class: the ORM's bulk path costs tens of microseconds
        # of Python per row, and this runs on the ingest process's only thread
        table = TelemetryLatest.__table__
        async with self.sessionmaker() as session:
            dialect = session.bind.dialect.name
            ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
            stmt = ins.on_conflict_do_update(
                index_elements=["vehicle_id"],
                set_={c: ins.excluded[c] for c in _UPDATED},
                where=table.c.ts <= ins.excluded.ts,   # an old sample arriving late never wins
            )
            await session.execute(stmt, [{c: r[c] for c in _COLUMNS} for r in rows])
            if self.history:
                await insert_history(session, rows)
            await session.commit()
