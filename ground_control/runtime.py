"""Everything that runs beside the API: one MQTT link feeding ingest, the dispatcher, the
telemetry flusher, the webhook delivery worker and ETA watcher, the footprint sampler and, with
several replicas on PostgreSQL, the hub-lease loop that decides which hubs this replica
dispatches. ``fleet serve`` starts it in the app lifespan; ``fleet demo`` can reuse it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ground_control.cluster.ownership import HubOwnership, Ownership, SoleOwner
from ground_control.db.models import utcnow
from ground_control.db.session import is_sqlite
from ground_control.dispatch.dispatcher import Dispatcher
from ground_control.history.store import maintain as maintain_history
from ground_control.dispatch.mission_builder import make_dispatch_planner
from ground_control.ingest.service import Ingest, subscriptions
from ground_control.mqtt.link import MqttLink
from ground_control.footprint.sampler import FootprintSampler
from ground_control.settings import Settings
from ground_control.signing.keys import Signer, load_gc_key
from ground_control.webhooks.eta_watch import EtaWatcher
from ground_control.webhooks.retention import purge as purge_webhooks
from ground_control.webhooks.worker import DeliveryWorker

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        # replan triggers from the fleet side (mission rejected/failed, vehicle back or lost)
        replan = settings.replan_on_mission_failed or settings.replan_on_vehicle_lost
        self.ingest = Ingest(settings, sessionmaker, on_replan=self.wake if replan else (lambda: None))
        self.link = MqttLink(settings, self.ingest.handle, subscriptions(settings), on_connect=self._connected)
        # flight profile = the missions' cruise/drop altitudes, so planned energy is the agent's
        planner = make_dispatch_planner(settings)
        self.leases: HubOwnership | None = None
        if uses_leases(settings):
            self.leases = HubOwnership(sessionmaker, settings.replica, settings.lease_ttl_s,
                                       settings.lease_renew_interval_s, on_change=self.wake)
            if not (settings.mqtt_shared_group and settings.mqtt_protocol == "5"):
                log.info("hub leases on; events and telemetry are not shared between replicas (set "
                         "FLEET_MQTT_PROTOCOL=5 and FLEET_MQTT_SHARED_GROUP to split them): with several "
                         "replicas each one ingests every message, stored once by id")
        ownership: Ownership = self.leases or SoleOwner()
        self.dispatcher = Dispatcher(settings, sessionmaker, self._publish, planner,
                                     listening=lambda: self.link.connected.is_set(),
                                     signer=Signer(load_gc_key(settings), settings.signed_message_ttl_s),
                                     ownership=ownership)
        self.webhooks = DeliveryWorker(settings, sessionmaker) if settings.webhooks_enabled else None
        self.eta_watch = EtaWatcher(settings, sessionmaker) if settings.webhooks_enabled else None
        self.footprint = FootprintSampler(settings, sessionmaker)
        self._tasks: list[asyncio.Task[None]] = []

    async def _publish(self, topic: str, payload: bytes, qos: int) -> None:
        await self.link.publish(topic, payload, qos)

    def _connected(self) -> None:
        # vehicles' silence is only counted while we can hear them
        self.dispatcher.listening_since = utcnow()

    @property
    def connected(self) -> bool:
        return self.link.connected.is_set()

    def wake(self) -> None:
        self.dispatcher.wake()

    async def start(self, wait_connected: float = 5.0) -> None:
        self._tasks = [
            *([asyncio.create_task(self.leases.run(), name="gc-leases")] if self.leases else []),
            asyncio.create_task(self.link.run(), name="gc-mqtt"),
            asyncio.create_task(self.ingest.flush_loop(), name="gc-telemetry-flush"),
            asyncio.create_task(self.dispatcher.run(), name="gc-dispatch"),
            asyncio.create_task(self.footprint.run(), name="gc-footprint"),
            *([asyncio.create_task(self._history_loop(), name="gc-telemetry-history")]
              if self.settings.telemetry_history else []),
            *([asyncio.create_task(self._webhook_retention_loop(), name="gc-webhook-retention")]
              if self.settings.webhooks_retention_days > 0 else []),
        ]
        if self.webhooks is not None and self.eta_watch is not None:
            self._tasks += [asyncio.create_task(self.webhooks.run(), name="gc-webhooks"),
                            asyncio.create_task(self.eta_watch.run(), name="gc-eta-watch")]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.link.connected.wait(), wait_connected)
        if not self.connected:
            log.warning("MQTT broker %s not reachable yet; will keep trying", self.settings.mqtt_url)

    async def _history_loop(self) -> None:
        """Telemetry retention (and the coming days' partitions) at start, then periodically.
        Every replica runs it; the database serialises them and each run is idempotent."""
        while True:
            try:
                async with self.sessionmaker() as session:
                    await maintain_history(session, utcnow(), self.settings.telemetry_retention_days)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried next interval; samples go to the default partition
                log.warning("telemetry history maintenance failed: %s", exc)
            await asyncio.sleep(self.settings.telemetry_history_maintenance_s)

    async def _webhook_retention_loop(self) -> None:
        """Webhook retention at start, then periodically (whether or not this replica sends
        webhooks: events are written by every replica). Every replica runs it; batches skip
        rows another one holds, and deleting what is already gone is a no-op."""
        while True:
            try:
                async with self.sessionmaker() as session:
                    counts = await purge_webhooks(session, utcnow(), self.settings.webhooks_retention_days)
                if any(counts.values()):
                    log.info("webhook retention: deleted %s", counts)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried next interval; the rows just wait
                log.warning("webhook retention failed: %s", exc)
            await asyncio.sleep(self.settings.webhooks_retention_interval_s)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.ingest.flush_all(force_dead_letters=True)
        if self.leases is not None:   # a graceful stop hands our hubs over at once
            await self.leases.release_all()


def uses_leases(settings: Settings) -> bool:
    """Hub leases on PostgreSQL (any number of replicas); SQLite is one process, which owns
    every hub."""
    if settings.dispatch_leases == "auto":
        return not is_sqlite(settings.database_url)
    return settings.dispatch_leases == "on"
