"""Reading a vehicle's telemetry history back: one time window, oldest first, in pages that
follow a cursor (``received_at`` of the last sample) rather than an offset, so paging through
a day of 2 Hz samples costs the same per page on the (vehicle_id, received_at) index. The
GeoJSON form (a LineString of the track, per-sample values beside it) is what a map draws."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import telemetry_history as th

SAMPLE_FIELDS = ("ts", "received_at", "lat", "lon", "alt_m", "heading_deg", "ground_speed_mps", "battery_pct",
                 "mode", "agent_state", "mission_id")


@dataclass(frozen=True, slots=True)
class HistoryPage:
    samples: list[dict[str, Any]]
    #: pass as ``after`` for the next page; None: the window is exhausted
    next_after: datetime | None


async def read_window(session: AsyncSession, vehicle_id: str, since: datetime, until: datetime, limit: int,
                      *, after: datetime | None = None, mission_id: str | None = None) -> HistoryPage:
    """Samples of ``vehicle_id`` received in [since, until), after the cursor, oldest first."""
    stmt = select(*(th.c[f] for f in SAMPLE_FIELDS)).where(
        th.c.vehicle_id == vehicle_id, th.c.received_at >= since, th.c.received_at < until)
    if after is not None:
        stmt = stmt.where(th.c.received_at > after)
    if mission_id is not None:
        stmt = stmt.where(th.c.mission_id == mission_id)
    rows = (await session.execute(stmt.order_by(th.c.received_at).limit(limit + 1))).mappings().all()
    more = len(rows) > limit
    samples = [dict(r) for r in rows[:limit]]
    return HistoryPage(samples, samples[-1]["received_at"] if more and samples else None)


def as_geojson(vehicle_id: str, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One Feature: the track as a LineString ([lon, lat] per sample, GeoJSON's order), with each
    sample's time, battery, speed, mode and mission as parallel arrays in its properties."""
    coords = [[s["lon"], s["lat"]] for s in samples]
    geometry: dict[str, Any] = ({"type": "LineString", "coordinates": coords} if len(coords) >= 2
                                else {"type": "Point", "coordinates": coords[0]} if coords else None)
    props: dict[str, Any] = {"vehicle_id": vehicle_id}
    for f in ("received_at", "ts"):
        props[f] = [s[f].isoformat() for s in samples]
    for f in ("alt_m", "battery_pct", "ground_speed_mps", "heading_deg", "mode", "agent_state", "mission_id"):
        props[f] = [s[f] for s in samples]
    return {"type": "Feature", "geometry": geometry, "properties": props}
