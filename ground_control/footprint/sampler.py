"""Keeps each active mission's battery readings (first and latest) from the latest telemetry,
and once a mission has ended writes the footprint of each parcel it delivered. Runs in the
ground-control runtime every ``footprint_interval_s``; safe to run on several replicas (a
duplicate first reading is refused by the primary key, a stale parcel write is retried)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from ground_control.db.models import Hub, Mission, MissionEnergy, Parcel, TelemetryLatest, Vehicle, utcnow
from ground_control.footprint.calc import Factors, haversine_m, mission_energy, parcel_footprint, shares
from ground_control.settings import Settings

log = logging.getLogger(__name__)
ACTIVE = ("sent", "accepted", "started")
ENDED = ("completed", "failed")
#: a first reading older than this says nothing about the battery at the mission's start
FRESH = timedelta(seconds=60)


def start_may_move(mission_state: str, start_pct: float, now_pct: float) -> bool:
    """Pure: may the mission's start reading be replaced by the reading ``now_pct``?"""
    return mission_state in ("sent", "accepted") or (start_pct <= 0 < now_pct)


def factors(settings: Settings) -> Factors:
    return Factors(settings.grid_gco2_per_kwh, settings.van_gco2_per_km, settings.charge_efficiency)


class FootprintSampler:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker

    async def run(self) -> None:
        while True:
            try:
                await self.sample()
                await self.finalize()
            except asyncio.CancelledError:
                raise
            except Exception:   # noqa: BLE001 - next tick tries again
                log.exception("footprint tick failed")
            await asyncio.sleep(self.settings.footprint_interval_s)

    async def sample(self) -> None:
        """First and latest battery reading of every active mission's vehicle."""
        async with self.sessionmaker() as s:
            now = utcnow()
            for m in (await s.scalars(select(Mission).where(Mission.state.in_(ACTIVE)))).all():
                tel = await s.get(TelemetryLatest, m.vehicle_id)
                if tel is None or now - tel.ts > FRESH:
                    continue
                row = await s.get(MissionEnergy, m.id)
                if row is None:
                    s.add(MissionEnergy(mission_id=m.id, vehicle_id=m.vehicle_id, start_pct=tel.battery_pct,
                                        start_at=tel.ts, last_pct=tel.battery_pct, last_at=tel.ts))
                elif tel.ts > row.last_at:
                    row.last_pct, row.last_at = tel.battery_pct, tel.ts
                    # the start is the reading at take-off: it follows the battery until the
                    # mission has started, and a 0 % reported before the autopilot's first
                    # battery message is no reading at all
                    if start_may_move(m.state, row.start_pct, tel.battery_pct):
                        row.start_pct, row.start_at = tel.battery_pct, tel.ts
            try:
                await s.commit()
            except IntegrityError:
                await s.rollback()

    async def finalize(self) -> int:
        """Footprints of delivered parcels whose mission has ended; returns how many written."""
        async with self.sessionmaker() as s:
            mids = set((await s.scalars(
                select(Parcel.mission_id).join(Mission, Mission.id == Parcel.mission_id)
                .where(Parcel.state == "delivered", Parcel.footprint.is_(None), Mission.state.in_(ENDED)))).all())
        written = 0
        for mid in mids:
            try:
                written += await self._mission(mid)
            except StaleDataError:
                continue
        return written

    async def _mission(self, mission_id: str) -> int:
        async with self.sessionmaker() as s:
            m = await s.get(Mission, mission_id)
            v = await s.get(Vehicle, m.vehicle_id) if m is not None else None
            hub = await s.get(Hub, m.hub_id) if m is not None else None
            if m is None or v is None or hub is None:
                return 0
            row = await s.get(MissionEnergy, m.id)
            tel = await s.get(TelemetryLatest, m.vehicle_id)
            end = row.last_pct if row else None
            if row is not None and tel is not None and tel.ts > row.last_at:
                end = tel.battery_pct   # the landing reading, after the mission ended
            wh, source = mission_energy(row.start_pct if row else None, end, v.battery_wh, m.distance_m, v.wh_per_km)
            delivered = (await s.scalars(select(Parcel).where(Parcel.mission_id == m.id,
                                                              Parcel.state == "delivered"))).all()
            split = shares({p.id: haversine_m(hub.lat, hub.lon, p.lat, p.lon) for p in delivered})
            f = factors(self.settings)
            now = utcnow().isoformat()
            for p in delivered:
                if p.footprint is None:
                    p.footprint = {**parcel_footprint(wh, source, split[p.id], m.distance_m, f),
                                   "mission_id": m.id, "vehicle_id": m.vehicle_id, "computed_at": now}
            await s.commit()
            return len(delivered)
