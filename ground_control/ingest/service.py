"""MQTT ingest: validate every message with fleet_protocol.parse_message (a bad one is a logged
warning, never a crash), route telemetry to the batch buffer, events to the store-once
handler, status to liveness. The handler returns only after the DB commit, so the link acks
QoS 1 events after they are durable."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Callable

import aiomqtt
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from fleet_protocol import ProtocolError, parse_message, topics
from ground_control.db.models import Vehicle, VehiclePresence, utcnow
from ground_control.dispatch.liveness import update_liveness
from ground_control.ingest.events import Outcome, store_and_apply
from ground_control.ingest.telemetry import TelemetryBuffer, telemetry_row
from ground_control.settings import Settings

log = logging.getLogger(__name__)


def subscriptions(settings: Settings) -> list[tuple[str, int]]:
    """Events and telemetry may be shared between replicas (v5); status stays unshared because
    brokers do not deliver retained messages to shared subscriptions.

    Status is subscribed at QoS 0: on subscribing, the broker replays every retained status at
    once, and at QoS 1 anything past its in-flight window (20) and queue limit
    (max_queued_messages, 1000 by default) is dropped, including live statuses arriving in the
    flood. Retained messages need no QoS 1: a status missed while we were away is replayed on
    the next subscribe, and telemetry silence covers the rest."""
    def share(t: str) -> str:
        return topics.shared(settings.mqtt_shared_group, t) if settings.mqtt_shared_group and settings.mqtt_protocol == "5" else t
    return [
        (share(topics.all_vehicles("event")), 1),
        (share(topics.all_vehicles("telemetry")), 0),
        (topics.all_vehicles("status"), 0),
    ]


class Ingest:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession],
                 on_replan: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.on_replan = on_replan
        self.telemetry = TelemetryBuffer(sessionmaker)
        self.status_pending: dict[str, tuple[str, datetime]] = {}
        self.counts = {"telemetry": 0, "event": 0, "duplicate": 0, "status": 0, "invalid": 0}

    async def handle(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        payload = message.payload if isinstance(message.payload, (bytes, str)) else b""
        if not payload and message.retain:
            return   # an empty retained message clears a topic (e.g. a decommissioned vehicle's status)
        try:
            env = parse_message(topic, payload)
        except ProtocolError as exc:
            self.counts["invalid"] += 1
            log.warning("dropped message on %s: %s", topic, exc.reason)
            return
        if env.type == "telemetry":
            self.counts["telemetry"] += 1
            self.telemetry.add(telemetry_row(env.vehicle_id, env.body, env.ts, utcnow()))
            if len(self.telemetry) >= self.settings.telemetry_flush_max:
                await self.telemetry.flush()
        elif env.type == "event":
            out = await self._store_event(env)
            self.counts["duplicate" if out.duplicate else "event"] += 1
            if out.duplicate:
                log.debug("duplicate event %s from %s ignored", env.id, env.vehicle_id)
            elif out.replan:
                self.on_replan()
        elif env.type == "status":
            self.counts["status"] += 1
            await self._status(env.vehicle_id, env.body.state.value)
        else:
            log.warning("unexpected %s message on %s", env.type, topic)

    async def _store_event(self, env: object) -> "Outcome":
        """Store and apply; on a lost race with dispatch/API (optimistic lock) or a busy SQLite,
        retry on fresh state. After that, raise: the link then does not ack and the broker
        redelivers."""
        for attempt in range(5):
            try:
                async with self.sessionmaker() as session:
                    return await store_and_apply(session, env, max_attempts=self.settings.max_delivery_attempts,
                                                 proof_tolerance_m=self.settings.proof_tolerance_m,
                                                 exclusion_expiry_s=self.settings.exclusion_expiry_s)
            except (StaleDataError, OperationalError) as exc:
                if attempt == 4:
                    raise
                log.info("event %s retry after %s", getattr(env, "id", "?"), type(exc).__name__)
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _status(self, vehicle_id: str, state: str) -> None:
        """Statuses are batched like telemetry: on subscribing, the broker hands us every
        retained status at once (thousands on a shared broker), and a transaction each would
        hold up events behind them. Status is retained, so one lost on a crash comes back on
        the next subscribe: acking on receipt is safe here."""
        self.status_pending[vehicle_id] = (state, utcnow())
        if len(self.status_pending) >= 500:
            await self.flush_status()

    async def flush_status(self) -> None:
        if not self.status_pending:
            return
        pending, self.status_pending = self.status_pending, {}
        ids = list(pending)
        async with self.sessionmaker() as session:
            dialect = session.bind.dialect.name
            ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(VehiclePresence)
            await session.execute(
                ins.on_conflict_do_update(index_elements=["vehicle_id"], set_={"state": ins.excluded.state, "at": ins.excluded.at}),
                [{"vehicle_id": vid, "state": st, "at": at} for vid, (st, at) in pending.items()],
            )
            for v in (await session.scalars(select(Vehicle).where(Vehicle.id.in_(ids)))).all():
                v.status_state, v.status_at = pending[v.id]
            up, down = await update_liveness(session, utcnow(), self.settings.telemetry_silence_timeout_s,
                                             self.settings.max_delivery_attempts, ids)
            await session.commit()
        if up or down:
            log.info("vehicles online %s, offline %s", up, down)
            self.on_replan()

    async def flush_loop(self) -> None:
        """Write buffered telemetry every ``telemetry_flush_interval_s``."""
        while True:
            await asyncio.sleep(self.settings.telemetry_flush_interval_s)
            try:
                await self.flush_status()
                await self.telemetry.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - DB hiccup: keep going, next flush retries newer data
                log.exception("telemetry flush failed")
