"""Webhook retention: finished deliveries older than FLEET_WEBHOOKS_RETENTION_DAYS go with their
attempt log and the events nothing refers to any more; recent and pending rows stay, and a recent
delivery can still be replayed. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ground_control.db.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription, utcnow
from ground_control.runtime import Runtime
from ground_control.settings import Settings
from ground_control.webhooks.retention import purge

pytestmark = pytest.mark.timeout(120)
DAY = timedelta(days=1)


class Rows:
    """Rows written straight into the tables, with the ages a test needs."""

    def __init__(self, sessionmaker) -> None:
        self.sessionmaker = sessionmaker
        self.now = utcnow()

    async def subscription(self) -> str:
        sub_id = f"wh_{uuid.uuid4().hex}"
        async with self.sessionmaker() as s:
            s.add(WebhookSubscription(id=sub_id, url="https://example.invalid/hook", event_types=["parcel.created"],
                                      secret="s" * 40, created_at=self.now - 90 * DAY))
            await s.commit()
        return sub_id

    async def event(self, age: timedelta, fanned_out: bool = True) -> int:
        async with self.sessionmaker() as s:
            ev = WebhookEvent(id=str(uuid.uuid4()), type="parcel.created", parcel_id=f"p-{uuid.uuid4().hex[:8]}",
                              hub_id=None, data={}, created_at=self.now - age, fanned_out=fanned_out)
            s.add(ev)
            await s.commit()
            return ev.seq

    async def delivery(self, sub_id: str, seq: int, state: str, last_try_age: timedelta) -> int:
        """A delivery whose last attempt was ``last_try_age`` ago (a pending one: is due then)."""
        at = self.now - last_try_age
        async with self.sessionmaker() as s:
            ev = await s.get(WebhookEvent, seq)
            d = WebhookDelivery(subscription_id=sub_id, event_seq=seq, parcel_id=ev.parcel_id, state=state,
                                attempts=1, next_attempt_at=at, created_at=ev.created_at,
                                delivered_at=at if state == "delivered" else None)
            s.add(d)
            await s.flush()
            s.add(WebhookAttempt(delivery_id=d.id, at=at, status_code=200 if state == "delivered" else 500,
                                 latency_ms=3.0))
            await s.commit()
            return d.id

    async def ids(self, column) -> set[int]:
        async with self.sessionmaker() as s:
            return set((await s.scalars(select(column))).all())


async def test_old_finished_rows_go_recent_and_pending_ones_stay(client):
    rows = Rows(client.app.state.sessionmaker)
    sub, other = await rows.subscription(), await rows.subscription()
    old_ev = await rows.event(40 * DAY)
    old_delivered = await rows.delivery(sub, old_ev, "delivered", 40 * DAY)
    dead_ev = await rows.event(45 * DAY)
    old_dead = await rows.delivery(sub, dead_ev, "dead", 44 * DAY)
    recent_ev = await rows.event(2 * DAY)
    recent = await rows.delivery(sub, recent_ev, "delivered", 2 * DAY)
    # an old event: delivered long ago to one subscriber, still pending (retrying) for another
    shared_ev = await rows.event(40 * DAY)
    shared_done = await rows.delivery(sub, shared_ev, "delivered", 39 * DAY)
    retrying = await rows.delivery(other, shared_ev, "pending", 35 * DAY)
    # an old event dead long ago but replayed yesterday: pending again (next_attempt_at = the replay)
    replayed_ev = await rows.event(50 * DAY)
    replayed = await rows.delivery(sub, replayed_ev, "pending", 1 * DAY)
    unsent_ev = await rows.event(60 * DAY, fanned_out=False)     # the worker has not fanned it out yet

    async with client.app.state.sessionmaker() as s:
        counts = await purge(s, utcnow(), keep_days=30)
    assert counts == {"deliveries": 3, "attempts": 3, "events": 2}

    assert await rows.ids(WebhookDelivery.id) == {recent, retrying, replayed}
    async with client.app.state.sessionmaker() as s:
        logged = set((await s.scalars(select(WebhookAttempt.delivery_id))).all())
    assert logged == {recent, retrying, replayed}
    assert await rows.ids(WebhookEvent.seq) == {recent_ev, shared_ev, replayed_ev, unsent_ev}
    assert not {old_delivered, old_dead, shared_done} & await rows.ids(WebhookDelivery.id)

    # the recent delivery can still be replayed (with its log); a purged one is gone
    one = await client.get(f"/webhooks/{sub}/deliveries/{recent}")
    assert one.status_code == 200 and len(one.json()["log"]) == 1
    r = await client.post(f"/webhooks/{sub}/deliveries/{recent}/replay")
    assert r.status_code == 200 and r.json()["state"] == "pending"
    assert (await client.post(f"/webhooks/{sub}/deliveries/{old_delivered}/replay")).status_code == 404


async def test_zero_days_keeps_everything_and_batches_delete_it_all(client):
    rows = Rows(client.app.state.sessionmaker)
    sub = await rows.subscription()
    for _ in range(7):
        await rows.delivery(sub, await rows.event(400 * DAY), "delivered", 400 * DAY)
    async with client.app.state.sessionmaker() as s:
        assert await purge(s, utcnow(), keep_days=0) == {"deliveries": 0, "attempts": 0, "events": 0}
        assert await s.scalar(select(func.count()).select_from(WebhookDelivery)) == 7
        assert await purge(s, utcnow(), keep_days=30, batch=2) == {"deliveries": 7, "attempts": 7, "events": 7}
        assert await s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_running_job_deletes_old_rows_at_start(client, db_url):
    """The runtime's periodic job (FLEET_WEBHOOKS_RETENTION_DAYS) runs once at start."""
    rows = Rows(client.app.state.sessionmaker)
    sub = await rows.subscription()
    old = await rows.delivery(sub, await rows.event(10 * DAY), "delivered", 10 * DAY)
    recent = await rows.delivery(sub, await rows.event(1 * DAY), "delivered", 1 * DAY)
    runtime = Runtime(Settings(database_url=db_url, mqtt_enabled=False, webhooks_retention_days=7),
                      client.app.state.sessionmaker)
    job = asyncio.create_task(runtime._webhook_retention_loop())
    try:
        deadline = time.monotonic() + 30
        while old in await rows.ids(WebhookDelivery.id):
            assert time.monotonic() < deadline, "the retention job did not run"
            await asyncio.sleep(0.05)
    finally:
        job.cancel()
    assert await rows.ids(WebhookDelivery.id) == {recent}


def test_retention_days_setting_from_the_environment(monkeypatch):
    monkeypatch.setenv("FLEET_WEBHOOKS_RETENTION_DAYS", "0")
    assert Settings().webhooks_retention_days == 0
    assert Settings.model_fields["webhooks_retention_days"].default == 30
