"""Webhook deliveries against a real HTTP receiver: down for a while then back (nothing lost, no
duplicate event ids, each parcel's events in order, signatures verify, two worker replicas);
auto-disable and re-enable; dead deliveries; replay; the outbox commits with the parcel change."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any, AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from gc_helpers import HUB, parcel
from ground_control.api.app import create_app
from ground_control.db.models import Parcel, WebhookAttempt, WebhookDelivery, WebhookEvent
from ground_control.db.repositories import apply_transitions
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.domain.parcel_lifecycle import ParcelState as S
from ground_control.settings import Settings
from ground_control.webhooks.signer import verify
from ground_control.webhooks.worker import DeliveryWorker
from webhook_receiver import Receiver

pytestmark = pytest.mark.timeout(120)
ALL_TYPES = ["parcel.created", "parcel.planned", "parcel.dispatched", "parcel.delivered",
             "parcel.delivery_failed", "parcel.returned"]


def fast_settings(db_url: str, **kw: Any) -> Settings:
    base = dict(database_url=db_url, mqtt_enabled=False, webhooks_allow_private=True,
                webhooks_poll_interval_s=0.05, webhooks_retry_base_s=0.05, webhooks_retry_cap_s=0.3,
                webhooks_max_attempts=1000, webhooks_disable_after_failures=10_000, webhooks_timeout_s=5.0)
    base.update(kw)
    return Settings(**base)


async def wait_for(cond, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Harness:
    """The API (no MQTT) plus N delivery workers, each on its own engine like separate replicas."""

    def __init__(self, settings: Settings, replicas: int = 1) -> None:
        self.settings = settings
        self.replicas = replicas
        self.app = create_app(settings)
        self.tasks: list[asyncio.Task[None]] = []
        self.engines: list[Any] = []

    async def __aenter__(self) -> "Harness":
        self._ctx = self.app.router.lifespan_context(self.app)
        await self._ctx.__aenter__()
        self.sm = self.app.state.sessionmaker
        self.c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://test")
        return self

    def start_workers(self) -> None:
        for i in range(self.replicas):
            engine = make_engine(self.settings.database_url)
            self.engines.append(engine)
            w = DeliveryWorker(self.settings, make_sessionmaker(engine))
            self.tasks.append(asyncio.create_task(w.run(), name=f"webhook-worker-{i}"))

    async def __aexit__(self, *exc: Any) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        for e in self.engines:
            await e.dispose()
        await self.c.aclose()
        await self._ctx.__aexit__(*exc)

    async def subscribe(self, url: str, types: list[str] = ALL_TYPES, **kw: Any) -> dict[str, Any]:
        r = await self.c.post("/webhooks", json={"url": url, "event_types": types, **kw})
        assert r.status_code == 201, r.text
        return r.json()

    async def parcels(self, ids: list[str]) -> None:
        if (await self.c.get(f"/hubs/{HUB['id']}")).status_code == 404:
            assert (await self.c.post("/hubs", json=HUB)).status_code == 201
        for pid in ids:
            assert (await self.c.post("/parcels", json=parcel(pid))).status_code == 201

    async def deliver(self, ids: list[str]) -> None:
        """What dispatch and ingest do, one transaction per step: created -> ... -> delivered."""
        for target in (S.planned, S.dispatched, S.in_transit, S.delivered):
            for pid in ids:
                async with self.sm() as s:
                    p = await s.get(Parcel, pid)
                    apply_transitions(s, p, target, f"test: {target.value}")
                    await s.commit()

    async def count(self, stmt) -> int:
        async with self.sm() as s:
            return int(await s.scalar(stmt))

    async def all_delivered(self) -> bool:
        fanned = await self.count(select(func.count()).select_from(WebhookEvent).where(WebhookEvent.fanned_out.is_(False)))
        waiting = await self.count(select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.state != "delivered"))
        return fanned == 0 and waiting == 0

    async def events(self) -> list[WebhookEvent]:
        async with self.sm() as s:
            return list((await s.scalars(select(WebhookEvent).order_by(WebhookEvent.seq))).all())


async def test_receiver_down_then_back_loses_nothing_and_keeps_order(db_url):
    rx = Receiver()
    async with Harness(fast_settings(db_url), replicas=2) as h:
        sub = await h.subscribe(rx.url)
        assert sub["secret"].startswith("whsec_")
        first = [f"a{i}" for i in range(6)]
        await h.parcels(first)
        h.start_workers()
        await h.deliver(first[:3])
        # the receiver is down: attempts fail (connection refused) and are logged
        await wait_for(lambda: _attempts_at_least(h, 10), what="failed attempts while the receiver is down")
        assert rx.accepted() == []
        rx.start()
        await h.deliver(first[3:])
        await wait_for(h.all_delivered, what="everything delivered once the receiver is back")
        # down again in the middle of a second batch
        rx.stop()
        second = [f"b{i}" for i in range(4)]
        await h.parcels(second)
        await h.deliver(second)
        await wait_for(lambda: _attempts_failed_since(h, len(rx.requests)), what="failures during the second outage")
        rx.start()
        await wait_for(h.all_delivered, what="second batch delivered")
        rx.stop()

        events = await h.events()
        got = rx.accepted()
        ids = [r.headers["x-fleet-event-id"] for r in got]
        assert len(ids) == len(set(ids)), "an event id was delivered twice"
        assert set(ids) == {e.id for e in events}, "an event was lost"
        assert len(events) == 10 * 4      # created, planned, dispatched, delivered (in_transit raises none)
        per_parcel_sent: dict[str, list[str]] = defaultdict(list)
        for r in got:
            doc = r.doc
            assert r.headers["x-fleet-event-type"] == doc["type"] and doc["id"] == r.headers["x-fleet-event-id"]
            assert verify(sub["secret"], r.headers["x-fleet-signature"], r.body, now=int(time.time()))
            per_parcel_sent[doc["parcel_id"]].append(doc["type"])
        for pid in first + second:
            assert per_parcel_sent[pid] == ["parcel.created", "parcel.planned", "parcel.dispatched",
                                            "parcel.delivered"], pid
        # the log kept the failed attempts with their error and latency
        async with h.sm() as s:
            failed = (await s.scalars(select(WebhookAttempt).where(WebhookAttempt.status_code.is_(None)))).all()
        assert failed and all(a.error and a.latency_ms >= 0 for a in failed)


async def _attempts_at_least(h: Harness, n: int) -> bool:
    return await h.count(select(func.count()).select_from(WebhookAttempt)) >= n


async def _attempts_failed_since(h: Harness, _seen: int) -> bool:
    return await h.count(select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.state == "pending", WebhookDelivery.attempts >= 2)) > 0
