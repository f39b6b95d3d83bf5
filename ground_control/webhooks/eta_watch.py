"""The ETA watcher: every ``eta_watch_interval_s``, for each parcel on an active mission, ask
the ETA source and raise ``parcel.eta_changed`` / ``parcel.arriving_soon`` as the pure rules
(eta_rules) say, writing the events and the new mark in one transaction."""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from ground_control.db.models import EtaMark, Parcel, utcnow
from ground_control.settings import Settings
from ground_control.tracking.service import current_eta
from ground_control.webhooks.eta_rules import EtaEstimate, EtaRules, Mark, decide
from ground_control.webhooks.event_types import EventType
from ground_control.webhooks.outbox import parcel_snapshot, stage

log = logging.getLogger(__name__)

EtaSource = Callable[[AsyncSession, str], Awaitable[EtaEstimate | None]]
#: parcels whose ETA is watched: aboard a vehicle on its way
WATCHED = ("dispatched", "in_transit")


async def tracking_eta(session: AsyncSession, parcel_id: str) -> EtaEstimate | None:
    """The recipient's tracking ETA (``ground_control.tracking``: the mission's remaining path at
    the observed speed, with each stop's service time), in the shape the rules take: one ETA
    model for the tracking page and the webhooks. ``low``/``high``: the band, in seconds from now."""
    est = await current_eta(session, parcel_id)
    if est is None:
        return None
    now = utcnow()
    return EtaEstimate(eta=est.eta, seconds=est.seconds, low=round((est.low - now).total_seconds(), 1),
                       high=round((est.high - now).total_seconds(), 1))


default_source: EtaSource = tracking_eta


class EtaWatcher:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession],
                 eta_source: EtaSource | None = None) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.eta_source = eta_source or default_source
        self.rules = EtaRules(settings.eta_change_threshold_s, settings.eta_arriving_soon_s, settings.eta_min_interval_s)

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:   # noqa: BLE001 - next tick tries again
                log.exception("ETA watch tick failed")
            await asyncio.sleep(self.settings.eta_watch_interval_s)

    async def tick(self) -> int:
        """One pass; returns how many events were raised."""
        async with self.sessionmaker() as s:
            ids = (await s.scalars(select(Parcel.id).where(Parcel.state.in_(WATCHED)))).all()
        raised = 0
        for pid in ids:
            try:
                raised += await self._one(pid)
            except (IntegrityError, StaleDataError):   # another replica's watcher got there first
                continue
        return raised

    async def _one(self, parcel_id: str) -> int:
        async with self.sessionmaker() as s:
            p = await s.get(Parcel, parcel_id)
            if p is None or p.state not in WATCHED or p.mission_id is None:
                return 0
            est = await self.eta_source(s, parcel_id)
            if est is None:
                return 0
            row = (await s.scalars(select(EtaMark).where(EtaMark.parcel_id == parcel_id).with_for_update())).first()
            old = Mark(row.mission_id, row.notified_eta, row.notified_at, row.arriving_sent) if row else None
            now = utcnow()
            d = decide(old, p.mission_id, est, now, self.rules)
            data = {**parcel_snapshot(p), "eta": est.eta.isoformat(), "eta_seconds": round(est.seconds, 1),
                    "eta_low_s": est.low, "eta_high_s": est.high}
            raised = 0
            if d.eta_changed:
                stage(s, EventType.eta_changed, p.id, p.hub_id,
                      {**data, "previous_eta": old.notified_eta.isoformat() if old else None}, now)
                raised += 1
            if d.arriving_soon:
                stage(s, EventType.arriving_soon, p.id, p.hub_id, data, now)
                raised += 1
            if row is None:
                s.add(EtaMark(parcel_id=p.id, mission_id=d.mark.mission_id, notified_eta=d.mark.notified_eta,
                              notified_at=d.mark.notified_at, arriving_sent=d.mark.arriving_sent))
            else:
                row.mission_id, row.notified_eta = d.mark.mission_id, d.mark.notified_eta
                row.notified_at, row.arriving_sent = d.mark.notified_at, d.mark.arriving_sent
            await s.commit()
            return raised
