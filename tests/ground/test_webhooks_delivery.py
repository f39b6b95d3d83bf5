"""Webhook deliveries against a real HTTP receiver: down for a while then back (nothing lost, no
duplicate event ids, each parcel's events in order, signatures verify, two worker replicas);
auto-disable and re-enable; dead deliveries; replay; the outbox commits with the parcel change."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gc_helpers import HUB, headers_for, parcel
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
        # an integrator manages the webhooks; parcels are made through the same credential
        self.c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://test",
                                   headers=await headers_for(self.app, "admin"))
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


async def test_repeated_failures_disable_the_subscription_until_re_enabled(db_url):
    rx = Receiver()
    rx.status = 500
    rx.start()
    try:
        async with Harness(fast_settings(db_url, webhooks_disable_after_failures=3)) as h:
            sub = await h.subscribe(rx.url, ["parcel.created"])
            await h.parcels(["d1", "d2"])
            h.start_workers()

            async def disabled() -> bool:
                return not (await h.c.get(f"/webhooks/{sub['id']}")).json()["enabled"]

            await wait_for(disabled, what="auto-disable")
            body = (await h.c.get(f"/webhooks/{sub['id']}")).json()
            assert "3 consecutive failed deliveries" in body["disabled_reason"] and "500" in body["disabled_reason"]
            tried = len(rx.requests)
            rx.status = 200
            await asyncio.sleep(0.5)
            assert len(rx.requests) == tried, "a disabled subscription was still called"
            page = (await h.c.get(f"/webhooks/{sub['id']}/deliveries", params={"state": "pending"})).json()
            assert page["total"] == 2          # nothing dropped while disabled
            d = (await h.c.get(f"/webhooks/{sub['id']}/deliveries/{page['items'][0]['id']}")).json()
            assert d["log"] and all(a["status_code"] == 500 and a["latency_ms"] >= 0 for a in d["log"])

            r = await h.c.post(f"/webhooks/{sub['id']}/enable")
            assert r.status_code == 200 and r.json()["enabled"] and r.json()["consecutive_failures"] == 0
            await wait_for(h.all_delivered, what="delivered after re-enable")
            assert {r.doc["parcel_id"] for r in rx.accepted()} == {"d1", "d2"}
    finally:
        rx.stop()


async def test_a_dead_delivery_no_longer_holds_back_the_parcels_later_events(db_url):
    rx = Receiver()
    rx.status = 503
    rx.start()
    try:
        async with Harness(fast_settings(db_url, webhooks_max_attempts=2)) as h:
            sub = await h.subscribe(rx.url, ["parcel.created", "parcel.planned"])
            await h.parcels(["x1"])
            h.start_workers()

            async def dead() -> bool:
                page = (await h.c.get(f"/webhooks/{sub['id']}/deliveries", params={"state": "dead"})).json()
                return page["total"] == 1

            await wait_for(dead, what="the created event to die after 2 attempts")
            assert len(rx.requests) == 2
            rx.status = 200
            async with h.sm() as s:
                p = await s.get(Parcel, "x1")
                apply_transitions(s, p, S.planned, "test")
                await s.commit()
            await wait_for(lambda: _accepted_types(rx, ["parcel.planned"]), what="the later event")
    finally:
        rx.stop()


async def _accepted_types(rx: Receiver, types: list[str]) -> bool:
    return [r.doc["type"] for r in rx.accepted()] == types


async def test_replay_one_delivery_and_a_time_range(db_url):
    rx = Receiver()
    rx.start()
    try:
        async with Harness(fast_settings(db_url)) as h:
            sub = await h.subscribe(rx.url, ["parcel.created", "parcel.planned"])
            await h.parcels(["r1", "r2"])
            await h.deliver(["r1"])
            h.start_workers()
            await wait_for(h.all_delivered, what="first deliveries")
            assert len(rx.accepted()) == 3
            page = (await h.c.get(f"/webhooks/{sub['id']}/deliveries")).json()
            first = page["items"][0]
            r = await h.c.post(f"/webhooks/{sub['id']}/deliveries/{first['id']}/replay")
            assert r.status_code == 200 and r.json()["state"] == "pending"
            await wait_for(lambda: _count_is(rx, 4), what="the replayed delivery")
            again = rx.accepted()[-1]
            assert again.headers["x-fleet-event-id"] == first["event_id"]   # same id: receivers can de-duplicate
            assert again.headers["x-fleet-delivery-attempt"] == "1"

            # a subscription made afterwards backfills a time range it did not exist for
            late = await h.subscribe(rx.url, ["parcel.created"])
            events = await h.events()
            r = await h.c.post(f"/webhooks/{late['id']}/replay", json={
                "since": events[0].created_at.isoformat(), "until": "2200-01-01T00:00:00Z"})
            assert r.status_code == 200 and r.json() == {"replayed": 2}
            await wait_for(lambda: _count_is(rx, 6), what="the range replay")
            assert sorted(x.doc["parcel_id"] for x in rx.accepted()[4:]) == ["r1", "r2"]
            bad = await h.c.post(f"/webhooks/{late['id']}/replay", json={"since": "2026-01-02T00:00:00Z",
                                                                        "until": "2026-01-01T00:00:00Z"})
            assert bad.status_code == 422
            assert (await h.c.post(f"/webhooks/{late['id']}/deliveries/999999/replay")).status_code == 404
    finally:
        rx.stop()


async def _count_is(rx: Receiver, n: int) -> bool:
    return len(rx.accepted()) >= n


async def test_the_outbox_commits_and_rolls_back_with_the_parcel_change(db_url):
    async with Harness(fast_settings(db_url)) as h:
        await h.parcels(["o1"])
        async with h.sm() as s:
            p = await s.get(Parcel, "o1")
            apply_transitions(s, p, S.planned, "planned, then the transaction fails")
            await s.rollback()
        assert [e.type for e in await h.events()] == ["parcel.created"]
        r = await h.c.post("/parcels/o1/transitions", json={"to": "returned", "reason": "sender cancelled"})
        assert r.status_code == 200, r.text
        events = await h.events()
        assert [e.type for e in events] == ["parcel.created", "parcel.returned"]
        assert events[1].data["reason"] == "operator: sender cancelled" and events[1].hub_id == HUB["id"]


async def test_subscription_input_is_validated_and_the_secret_shown_once(db_url):
    async with Harness(fast_settings(db_url, webhooks_allow_private=False)) as h:
        for url, why in [("http://127.0.0.1:9/x", "internal address"), ("http://169.254.169.254/", "internal"),
                         ("ftp://example.com/", "http and https"), ("http://localhost/", "internal name")]:
            r = await h.c.post("/webhooks", json={"url": url, "event_types": ["parcel.created"]})
            assert r.status_code == 422 and why in r.text, (url, r.text)
        r = await h.c.post("/webhooks", json={"url": "https://hooks.example.com/x", "event_types": ["parcel.nope"]})
        assert r.status_code == 422
        r = await h.c.post("/webhooks", json={"url": "https://hooks.example.com/x", "event_types": []})
        assert r.status_code == 422
        r = await h.c.post("/webhooks", json={"url": "https://hooks.example.com/x", "event_types": ["parcel.created"],
                                              "hub_id": "no-such-hub"})
        assert r.status_code == 422 and "hub" in r.text
        sub = await h.subscribe("https://hooks.example.com/x", ["parcel.created", "parcel.lost"])
        assert "secret" in sub
        got = (await h.c.get(f"/webhooks/{sub['id']}")).json()
        assert "secret" not in got and got["event_types"] == ["parcel.created", "parcel.lost"]
        assert all("secret" not in s for s in (await h.c.get("/webhooks")).json()["items"])
        rotated = (await h.c.post(f"/webhooks/{sub['id']}/rotate-secret")).json()
        assert rotated["secret"] != sub["secret"]
        r = await h.c.patch(f"/webhooks/{sub['id']}", json={"url": "http://10.0.0.1/"})
        assert r.status_code == 422
        r = await h.c.patch(f"/webhooks/{sub['id']}", json={"enabled": False})
        assert r.json()["enabled"] is False and r.json()["disabled_reason"] == "disabled by a user"
        assert (await h.c.get("/webhooks/wh_" + "0" * 32)).status_code == 404
        assert (await h.c.get("/webhooks/not-an-id")).status_code == 422
        assert (await h.c.delete(f"/webhooks/{sub['id']}")).status_code == 204
        assert (await h.c.get(f"/webhooks/{sub['id']}")).status_code == 404


async def test_hub_filter_only_takes_that_hubs_parcels(db_url):
    rx = Receiver()
    rx.start()
    try:
        async with Harness(fast_settings(db_url)) as h:
            await h.parcels(["h1"])
            assert (await h.c.post("/hubs", json={**HUB, "id": "hub-2"})).status_code == 201
            sub = await h.subscribe(rx.url, ["parcel.created"], hub_id="hub-2")
            assert (await h.c.post("/parcels", json=parcel("h2", hub_id="hub-2"))).status_code == 201
            assert (await h.c.post("/parcels", json=parcel("h3"))).status_code == 201
            h.start_workers()
            await wait_for(h.all_delivered, what="deliveries")
            assert [r.doc["parcel_id"] for r in rx.accepted()] == ["h2"]
            assert sub["hub_id"] == "hub-2"
    finally:
        rx.stop()


async def test_a_claim_of_a_dead_replica_is_taken_over_when_its_lease_ends(db_url):
    from datetime import timedelta

    from ground_control.db.models import utcnow
    from ground_control.webhooks.queue import claim, fan_out

    async with Harness(fast_settings(db_url)) as h:
        await h.subscribe("http://127.0.0.1:9/never-called", ["parcel.created"])
        await h.parcels(["l1"])
        async with h.sm() as s:
            assert await fan_out(s) == 1
        now = utcnow()
        async with h.sm() as s:
            first = await claim(s, now, 10, lease_s=30)          # this replica then dies
        async with h.sm() as s:
            assert await claim(s, now + timedelta(seconds=29), 10, lease_s=30) == []   # still leased
        async with h.sm() as s:
            again = await claim(s, now + timedelta(seconds=31), 10, lease_s=30)
        assert [c.event_id for c in again] == [c.event_id for c in first] and len(first) == 1


async def test_an_integrator_sees_and_manages_only_its_own_webhooks(client):
    """Two integrators on one ground control: neither can list, read, change, rotate, replay or
    delete the other's subscription (a plain 404, as for an unknown id); an admin sees both."""
    a, b = await headers_for(client, "integrator"), await headers_for(client, "integrator")
    body = {"url": "https://receiver.example.org/hook", "event_types": ["parcel.delivered"]}
    mine = await client.post("/webhooks", json=body, headers=a)
    theirs = await client.post("/webhooks", json=body, headers=b)
    assert mine.status_code == theirs.status_code == 201, (mine.text, theirs.text)
    mine_id, theirs_id = mine.json()["id"], theirs.json()["id"]

    listed = (await client.get("/webhooks", headers=a)).json()
    assert [s["id"] for s in listed["items"]] == [mine_id]
    for method, path, kw in (("GET", f"/webhooks/{theirs_id}", {}),
                             ("PATCH", f"/webhooks/{theirs_id}", {"json": {"url": "https://evil.example.org/"}}),
                             ("POST", f"/webhooks/{theirs_id}/rotate-secret", {}),
                             ("POST", f"/webhooks/{theirs_id}/enable", {}),
                             ("GET", f"/webhooks/{theirs_id}/deliveries", {}),
                             ("POST", f"/webhooks/{theirs_id}/replay",
                              {"json": {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}}),
                             ("DELETE", f"/webhooks/{theirs_id}", {})):
        r = await client.request(method, path, headers=a, **kw)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    still = (await client.get(f"/webhooks/{theirs_id}", headers=b)).json()
    assert still["url"] == body["url"] and still["owner"] is not None
    every = {s["id"] for s in (await client.get("/webhooks")).json()["items"]}   # the admin
    assert {mine_id, theirs_id} <= every
