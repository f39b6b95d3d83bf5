"""ONE live feed per ground-control process: it reads the database every
``console_feed_interval_s`` (vehicles with their latest telemetry, active missions, open alerts,
and new events / parcel-history rows by a time cursor), turns what changed into Server-Sent
Events frames, encodes each frame once and hands the bytes to every open console. It also stores
the alerts those changes call for.

Why the database and not MQTT: with several replicas sharing MQTT ingest (shared
subscriptions), one replica's MQTT traffic is not the whole fleet; the database is. Why one feed
and not one poll per console: the database load stays flat however many consoles are open.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, AsyncIterator

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ground_control.console import alert_store
from ground_control.console.alerts import VehicleView, from_event, from_mission_end, from_vehicle
from ground_control.console.feed import (
    Records, alert_record, by_id, diff, epoch, event_record, history_record, mission_record, sse, vehicle_record,
)
from ground_control.db.models import Alert, Event, Mission, ParcelHistory, TelemetryLatest, Vehicle, utcnow
from ground_control.dispatch.reassign import ACTIVE_MISSION_STATES
from ground_control.settings import Settings

log = logging.getLogger(__name__)

#: rows may commit a little after the time they carry: each read looks back this far and skips
#: ids it already sent, so a late commit is still delivered
LOOKBACK = timedelta(seconds=5)
#: a new console sees this much recent history (events, parcel changes) in its snapshot
BACKLOG = timedelta(minutes=10)
MAX_ROWS = 1000
QUEUE_FRAMES = 200      # a console this far behind is resynchronised with a fresh snapshot
KEEPALIVE_S = 15.0


@dataclass
class _Cursor:
    """New rows by time, with the ids already sent in the look-back window."""

    since: datetime
    seen: dict[Any, datetime] = field(default_factory=dict)
    full: bool = False   # the last read hit MAX_ROWS: read on from ``since`` without looking back

    @property
    def floor(self) -> datetime:
        return self.since if self.full else self.since - LOOKBACK

    def fresh(self, rows: list[Any], at: str) -> list[Any]:
        self.full = len(rows) >= MAX_ROWS
        out = [r for r in rows if r.id not in self.seen]
        for r in out:
            self.seen[r.id] = getattr(r, at)
        if rows:
            self.since = max(self.since, max(getattr(r, at) for r in rows))
        floor = self.since - 2 * LOOKBACK
        self.seen = {k: t for k, t in self.seen.items() if t >= floor}
        return out


class Subscription:
    """One open console: a bounded queue of encoded frames."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_FRAMES)
        self.overflowed = False

    def offer(self, frame: bytes) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True   # the reader resynchronises from a fresh snapshot


class LiveFeed:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sm = sessionmaker
        self._settings = settings
        self._subs: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._lock = asyncio.Lock()   # one read at a time, whoever asks (the loop, a test)
        self.vehicles: Records = {}
        self.missions: Records = {}
        self.alerts: Records = {}
        self.recent_events: list[dict[str, Any]] = []
        self.recent_history: list[dict[str, Any]] = []
        self._views: dict[str, VehicleView] = {}
        self._events = _Cursor(utcnow() - BACKLOG)
        self._history = _Cursor(utcnow() - BACKLOG)
        self.ticks = 0

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="console-live-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for sub in list(self._subs):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)

    async def _run(self) -> None:
        interval = self._settings.console_feed_interval_s
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a database hiccup must not end the feed
                log.exception("console live feed: read failed; retrying")
            self._ready.set()
            await asyncio.sleep(interval)

    # ---- one read -----------------------------------------------------------------------------
    async def tick(self) -> None:
        """One read; a read that fails leaves the cursors where they were, so its rows come again."""
        async with self._lock:
            saved = (copy.deepcopy(self._events), copy.deepcopy(self._history))
            try:
                await self._tick()
            except BaseException:
                self._events, self._history = saved
                raise

    async def _tick(self) -> None:
        now = utcnow()
        async with self._sm() as s:
            pairs = (await s.execute(select(Vehicle, TelemetryLatest).outerjoin(
                TelemetryLatest, TelemetryLatest.vehicle_id == Vehicle.id).order_by(Vehicle.id))).all()
            missions = (await s.scalars(select(Mission).where(Mission.state.in_(ACTIVE_MISSION_STATES)))).all()
            ended_ids = set(self.missions) - {m.id for m in missions}
            ended = (await s.scalars(select(Mission).where(Mission.id.in_(ended_ids)))).all() if ended_ids else []
            events = (await s.scalars(select(Event).where(Event.received_at >= self._events.floor)
                                      .order_by(Event.received_at, Event.id).limit(MAX_ROWS))).all()
            history = (await s.scalars(select(ParcelHistory).where(ParcelHistory.at >= self._history.floor)
                                       .order_by(ParcelHistory.at, ParcelHistory.id).limit(MAX_ROWS))).all()
            drafts = []
            new_events = self._events.fresh(list(events), "received_at")
            for e in new_events:
                d = from_event(e.vehicle_id, e.id, e.kind, e.ts, e.body if isinstance(e.body, dict) else {})
                if d is not None:
                    drafts.append(d)
            for m in ended:
                d = from_mission_end(m.id, m.vehicle_id, m.state, m.fail_reason, m.updated_at or now)
                if d is not None:
                    drafts.append(d)
            views = {}
            for v, t in pairs:
                view = VehicleView(v.id, v.online, v.online_changed_at, t.battery_pct if t else None,
                                   t.mission_id if t else None)
                views[v.id] = view
                drafts.extend(from_vehicle(self._views.get(v.id), view, self._settings.console_low_battery_pct, now))
            if drafts:
                await alert_store.store(s, drafts)
            alerts = (await s.scalars(select(Alert).where(or_(
                Alert.acknowledged_at.is_(None), Alert.acknowledged_at >= now - timedelta(minutes=1)))
                .order_by(Alert.id.desc()).limit(500))).all()
            new_history = self._history.fresh(list(history), "at")
            vehicles = by_id(vehicle_record(v, t) for v, t in pairs)
            mission_recs = by_id(mission_record(m) for m in missions)
            alert_recs = by_id(alert_record(a) for a in alerts)
            ev_recs = [event_record(e) for e in new_events]
            hist_recs = [history_record(h) for h in new_history]
        self._views = views
        frames: list[bytes] = []
        if self.ticks > 0:
            for name, prev, cur in (("vehicles", self.vehicles, vehicles), ("missions", self.missions, mission_recs),
                                    ("alerts", self.alerts, alert_recs)):
                upd, gone = diff(prev, cur)
                if upd or gone:
                    frames.append(sse(name, {"t": epoch(now), "upd": upd, "del": gone}))
            if ev_recs:
                frames.append(sse("events", ev_recs))
            if hist_recs:
                frames.append(sse("parcels", hist_recs))
        self.vehicles, self.missions, self.alerts = vehicles, mission_recs, alert_recs
        self.recent_events = (self.recent_events + ev_recs)[-200:]
        self.recent_history = (self.recent_history + hist_recs)[-500:]
        self.ticks += 1
        for frame in frames:
            for sub in list(self._subs):
                sub.offer(frame)

    def snapshot(self) -> bytes:
        return sse("snapshot", {"t": epoch(utcnow()), "vehicles": list(self.vehicles.values()),
                                "missions": list(self.missions.values()), "alerts": list(self.alerts.values()),
                                "events": self.recent_events[-100:], "parcels": self.recent_history[-200:]})

    # ---- consoles ---------------------------------------------------------------------------
    async def stream(self) -> AsyncIterator[bytes]:
        """What one console reads: a snapshot, then every frame; a fresh snapshot after it fell
        behind; a comment line as keep-alive when nothing happens."""
        self.start()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 10)
        sub = Subscription()
        self._subs.add(sub)
        try:
            yield b"retry: 2000\n\n" + self.snapshot()
            while True:
                try:
                    frame = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
                except asyncio.TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if frame is None:
                    return
                if sub.overflowed:
                    while not sub.queue.empty():
                        sub.queue.get_nowait()
                    sub.overflowed = False
                    yield self.snapshot()
                    continue
                yield frame
        finally:
            self._subs.discard(sub)

    @property
    def consoles(self) -> int:
        return len(self._subs)
