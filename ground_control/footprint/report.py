"""The daily footprint report: the parcels delivered on one UTC day with their footprint, and
totals. Rows are read here; the totals and the CSV rendering are pure."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import Parcel, ParcelHistory

COLUMNS = ["parcel_id", "delivered_at", "hub_id", "vehicle_id", "mission_id", "energy_source", "energy_wh",
           "co2e_g", "distance_km", "van_co2e_g", "saved_co2e_g"]


async def day_rows(session: AsyncSession, day: date, hub_id: str | None = None) -> list[dict[str, Any]]:
    start = datetime.combine(day, time(0), tzinfo=timezone.utc)
    stmt = (select(ParcelHistory.at, Parcel).join(Parcel, Parcel.id == ParcelHistory.parcel_id)
            .where(ParcelHistory.to_state == "delivered", ParcelHistory.at >= start,
                   ParcelHistory.at < start + timedelta(days=1))
            .order_by(ParcelHistory.at, Parcel.id))
    if hub_id is not None:
        stmt = stmt.where(Parcel.hub_id == hub_id)
    rows = []
    for at, p in (await session.execute(stmt)).all():
        fp = p.footprint or {}
        rows.append({"parcel_id": p.id, "delivered_at": at.isoformat(), "hub_id": p.hub_id,
                     "vehicle_id": p.vehicle_id, "mission_id": p.mission_id,
                     **{k: fp.get(k) for k in COLUMNS[5:]}})
    return rows


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums over the rows that have a footprint; ``pending`` counts those whose mission has not
    ended yet (their footprint comes when the vehicle is back)."""
    done = [r for r in rows if r["energy_wh"] is not None]
    out: dict[str, Any] = {"parcels": len(rows), "with_footprint": len(done), "pending": len(rows) - len(done),
                           "from_telemetry": sum(r["energy_source"] == "telemetry" for r in done)}
    for k in ("energy_wh", "co2e_g", "distance_km", "van_co2e_g", "saved_co2e_g"):
        out[k] = round(sum(r[k] for r in done), 3)
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r[k] for k in COLUMNS})
    return buf.getvalue()
