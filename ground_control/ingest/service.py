"""MQTT ingest: validate every message with fleet_protocol.parse_message, route telemetry to the
batch buffer, events to the store-once handler, status to liveness. The handler returns only
after the DB commit, so the link acks QoS 1 events after they are durable.

A message that cannot be handled never blocks the others (see :mod:`.failures`): a *transient*
failure (database down, busy, a lost optimistic-lock race) is retried in place with backoff and
the message stays unacknowledged until it is stored; a *permanent* one (invalid message, a value
the database refuses, a handler bug) is set aside in ``dead_letters`` and acknowledged."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from typing import Any, Callable, Sequence

import aiomqtt
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet_protocol import ProtocolError, parse_message, topics
from ground_control.db.models import Mission, Vehicle, VehiclePresence, utcnow
from ground_control.dispatch.liveness import update_liveness
from ground_control.ingest import dead_letters
from ground_control.ingest.batches import write_isolating
from ground_control.ingest.events import Outcome, store_and_apply
from ground_control.ingest.failures import Failure, backoff_s, classify, summary
from ground_control.ingest.telemetry import TelemetryBuffer, telemetry_row
from ground_control.tracking.speed import SPEEDS
from ground_control.settings import Settings
from ground_control.signing.events import EventAuth, check_event

log = logging.getLogger(__name__)


class EventRefused(ProtocolError):
    """A well-formed event ground control does not believe (signature, or a claim about a parcel
    the sender does not carry): set aside with the reason, never applied."""


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
        self.telemetry = TelemetryBuffer(sessionmaker, on_refused=self._telemetry_refused,
                                         history=settings.telemetry_history)
        self.status_pending: dict[str, tuple[str, datetime, bytes]] = {}
        self.dead_letters = dead_letters.Aggregator()   # invalid telemetry/status, written in bulk
        self._dead_letters_flushed = 0.0
        self.counts = {"telemetry": 0, "event": 0, "duplicate": 0, "status": 0, "invalid": 0,
                       "dead_letter": 0, "retry": 0}

    async def handle(self, message: aiomqtt.Message) -> None:
        """Handle one message; returns when it may be acknowledged (handled or dead-lettered).
        Never raises for a message's sake: a transient failure is retried here, in place."""
        topic = str(message.topic)
        payload = message.payload if isinstance(message.payload, (bytes, str)) else b""
        if not payload and (message.retain or topic.endswith("/status")):
            # an empty retained message clears a topic (e.g. a decommissioned vehicle's status);
            # subscribers connected at that moment get it live, without the retain flag
            return
        attempt = 0
        while True:
            try:
                await self.process(topic, payload)
                return
            except asyncio.CancelledError:
                raise
            except ProtocolError as exc:
                self.counts["invalid"] += 1
                # a flood of bad telemetry must not flood the log either: it is counted per vehicle
                quiet = topic.endswith(("/telemetry", "/status"))
                log.log(logging.DEBUG if quiet else logging.WARNING, "dropped message on %s: %s", topic, exc.reason)
                refused = isinstance(exc, EventRefused)
                await self._dead_letter(topic, payload, f"refused: {exc.reason}" if refused else f"invalid message: {exc.reason}")
                return
            except Exception as exc:  # noqa: BLE001 - every failure is classified
                if classify(exc) is Failure.transient:
                    attempt += 1
                    if attempt < self.settings.ingest_transient_max_attempts or not await self._database_answers():
                        self.counts["retry"] += 1
                        delay = backoff_s(attempt, self.settings.ingest_retry_max_backoff_s)
                        log.warning("message on %s: transient failure (%s); retry %d in %.1fs",
                                    topic, summary(exc, 200), attempt, delay)
                        await asyncio.sleep(delay)
                        continue
                    reason = f"failed {attempt} times while the database answers: {summary(exc)}"
                else:
                    reason = summary(exc)
                log.error("message on %s set aside as a dead letter: %s", topic, reason)
                await self._dead_letter(topic, payload, reason)
                return

    async def process(self, topic: str, payload: bytes | str) -> None:
        """Validate and apply one message; raises ProtocolError or the database's error."""
        env = parse_message(topic, payload)
        if env.type == "telemetry":
            self.counts["telemetry"] += 1
            row = telemetry_row(env.vehicle_id, env.body, env.ts, utcnow())
            row["raw"] = payload
            self.telemetry.add(row)
            # every sample, not only the flushed latest: the tracking ETA's observed speed
            SPEEDS.add(env.vehicle_id, env.body.mission_id, env.ts, env.body.ground_speed_mps)
            if len(self.telemetry) >= self.settings.telemetry_flush_max:
                await self.telemetry.flush()
        elif env.type == "event":
            out = await self._store_event(env, payload)
            self.counts["duplicate" if out.duplicate else "event"] += 1
            if out.duplicate:
                log.debug("duplicate event %s from %s ignored", env.id, env.vehicle_id)
            elif out.replan:
                self.on_replan()
        elif env.type == "status":
            self.counts["status"] += 1
            await self._status(env.vehicle_id, env.body.state.value, payload)
        else:
            raise ProtocolError(f"unexpected {env.type} message on {topic}")

    async def _store_event(self, env: Any, payload: bytes | str) -> Outcome:
        async with self.sessionmaker() as session:
            auth = await self._authenticate(session, env, payload)
            return await store_and_apply(session, env, max_attempts=self.settings.max_delivery_attempts,
                                         proof_tolerance_m=self.settings.proof_tolerance_m,
                                         exclusion_expiry_s=self.settings.exclusion_expiry_s,
                                         signed=auth if auth.signed is not None else None)

    async def _authenticate(self, session: AsyncSession, env: Any, payload: bytes | str) -> EventAuth:
        """Raises :class:`EventRefused` for an event signed wrongly (or unsigned from a vehicle
        with a registered key), and for a ``delivered`` about a parcel that is not on a mission
        of the sender: that is a forgery whatever its signature."""
        vehicle = await session.get(Vehicle, env.vehicle_id)
        auth = check_event(json.loads(payload), vehicle.public_key if vehicle is not None else None,
                           require_signed=self.settings.require_signed_events)
        if not auth.ok:
            raise EventRefused(f"event {env.id} from {env.vehicle_id}: {auth.reason}")
        if vehicle is not None and vehicle.public_key is None:
            log.debug("event %s from %s taken unsigned (no registered key)", env.id, env.vehicle_id)
        if env.body.kind == "delivered":
            m = await session.get(Mission, env.body.mission_id)
            if m is None or m.vehicle_id != env.vehicle_id or env.body.parcel_id not in (m.parcel_ids or []):
                where = "an unknown mission" if m is None else f"mission {m.id} of {m.vehicle_id}"
                raise EventRefused(f"delivered from {env.vehicle_id} for parcel {env.body.parcel_id} on {where}: "
                                   f"the parcel is not on a mission of this vehicle")
        return auth

    async def _database_answers(self) -> bool:
        try:
            async with self.sessionmaker() as session:
                await session.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - a probe
            return False

    # ------------------------------------------------------------------ dead letters
    async def _dead_letter(self, topic: str, payload: bytes | str, reason: str) -> None:
        """Set the message aside. Invalid telemetry/status only count up in memory (written by
        :meth:`flush_dead_letters`); anything else is written now, retried while the database
        is unreachable, so the message is acknowledged only once it is safe."""
        self.counts["dead_letter"] += 1
        rec = dead_letters.make_record(topic, payload, reason, utcnow(),
                                       max_payload_bytes=self.settings.dead_letter_max_payload_bytes)
        if rec.channel in dead_letters.AGGREGATED_CHANNELS:
            self.dead_letters.add(rec)
            return
        attempt = 0
        while True:
            try:
                async with self.sessionmaker() as session:
                    await dead_letters.store(session, [rec])
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                if classify(exc) is Failure.permanent:
                    # nothing else can keep it: the log is the last place it is recorded
                    log.critical("dead letter on %s could not be stored (%s); payload %r",
                                 topic, summary(exc), rec.payload[:2000])
                    return
                attempt += 1
                await asyncio.sleep(backoff_s(attempt, self.settings.ingest_retry_max_backoff_s))

    async def _telemetry_refused(self, row: dict[str, Any], exc: BaseException) -> None:
        self.counts["dead_letter"] += 1
        self.dead_letters.add(dead_letters.make_record(
            topics.telemetry(row["vehicle_id"]), row.get("raw") or b"", f"database refused: {summary(exc)}", utcnow(),
            max_payload_bytes=self.settings.dead_letter_max_payload_bytes))

    async def flush_dead_letters(self, force: bool = False) -> None:
        """Write aggregated dead letters, at most every ``dead_letter_flush_interval_s``."""
        now = time.monotonic()
        if not self.dead_letters or (not force and now - self._dead_letters_flushed < self.settings.dead_letter_flush_interval_s):
            return
        self._dead_letters_flushed = now
        records = self.dead_letters.take()
        try:
            async with self.sessionmaker() as session:
                await dead_letters.store(session, records)
        except Exception:
            self.dead_letters.put_back(records)
            raise

    # ------------------------------------------------------------------ status
    async def _status(self, vehicle_id: str, state: str, raw: bytes | str = b"") -> None:
        """Statuses are batched like telemetry: on subscribing, the broker hands us every
        retained status at once (thousands on a shared broker), and a transaction each would
        hold up events behind them. Status is retained, so one lost on a crash comes back on
        the next subscribe: acking on receipt is safe here."""
        self.status_pending[vehicle_id] = (state, utcnow(), raw if isinstance(raw, bytes) else raw.encode())
        if len(self.status_pending) >= 500:
            await self.flush_status()

    async def flush_status(self) -> None:
        """Write pending statuses; one vehicle's refused row is dead-lettered, the rest written.
        A transient failure keeps them for the next flush (newer statuses win)."""
        if not self.status_pending:
            return
        pending, self.status_pending = self.status_pending, {}
        # sorted: replicas writing the same vehicles in one order cannot deadlock each other
        rows = sorted((vid, st, at) for vid, (st, at, _raw) in pending.items())
        try:
            refused = await write_isolating(rows, self._write_status)
        except Exception:
            self.status_pending = {**pending, **self.status_pending}
            raise
        for (vid, _st, _at), exc in refused:
            log.warning("status of %s refused by the database: %s", vid, exc)
            self.counts["dead_letter"] += 1
            self.dead_letters.add(dead_letters.make_record(
                topics.status(vid), pending[vid][2], f"database refused: {summary(exc)}", utcnow(),
                max_payload_bytes=self.settings.dead_letter_max_payload_bytes))

    async def _write_status(self, rows: Sequence[tuple[str, str, datetime]]) -> None:
        ids = [vid for vid, _st, _at in rows]
        by_id = {vid: (st, at) for vid, st, at in rows}
        async with self.sessionmaker() as session:
            dialect = session.bind.dialect.name
            ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(VehiclePresence)
            await session.execute(
                ins.on_conflict_do_update(index_elements=["vehicle_id"], set_={"state": ins.excluded.state, "at": ins.excluded.at}),
                [{"vehicle_id": vid, "state": st, "at": at} for vid, st, at in rows],
            )
            for v in (await session.scalars(select(Vehicle).where(Vehicle.id.in_(ids)))).all():
                v.status_state, v.status_at = by_id[v.id]
            up, down = await update_liveness(session, utcnow(), self.settings.telemetry_silence_timeout_s, ids)
            await session.commit()
        if up or down:
            log.info("vehicles online %s, offline %s", up, down)
            self.on_replan()

    async def flush_loop(self) -> None:
        """Write buffered telemetry/status every ``telemetry_flush_interval_s``."""
        while True:
            await asyncio.sleep(self.settings.telemetry_flush_interval_s)
            await self.flush_all()

    async def flush_all(self, force_dead_letters: bool = False) -> None:
        for name, flush in (("status", self.flush_status), ("telemetry", self.telemetry.flush),
                            ("dead letter", lambda: self.flush_dead_letters(force_dead_letters))):
            try:
                await flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - DB hiccup: kept, the next flush retries
                log.warning("%s flush failed (%s); kept for the next one", name, summary(exc, 300))
