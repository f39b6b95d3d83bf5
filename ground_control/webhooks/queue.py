"""The delivery queue in the database: fan events out to subscriptions, claim due deliveries
(several replicas on one PostgreSQL: ``FOR UPDATE SKIP LOCKED`` plus a lease column), and record
each attempt's outcome. A parcel's later event is never claimed while an earlier one for the same
subscription is still pending, so each receiver sees a parcel's events in order."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ground_control.db.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from ground_control.webhooks.backoff import retry_delay

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def wants(sub: WebhookSubscription, ev: WebhookEvent) -> bool:
    """Pure: does ``sub`` take ``ev`` (type, hub filter, and it existed when the event happened)?"""
    return (ev.type in sub.event_types and (sub.hub_id is None or sub.hub_id == ev.hub_id)
            and sub.created_at <= ev.created_at)


async def fan_out(session: AsyncSession, limit: int = 500) -> int:
    """One delivery row per (subscription, event) for events not fanned out yet. Commits."""
    events = (await session.scalars(
        select(WebhookEvent).where(WebhookEvent.fanned_out.is_(False)).order_by(WebhookEvent.seq)
        .limit(limit).with_for_update(skip_locked=True))).all()
    if not events:
        await session.rollback()
        return 0
    subs = (await session.scalars(select(WebhookSubscription))).all()
    table = WebhookEvent.__table__
    for ev in events:
        # compare-and-set, as in claim: without SKIP LOCKED (SQLite) another worker may have
        # read the same events; only the one that flips the flag fans the event out
        flipped = await session.execute(update(table).where(table.c.seq == ev.seq, table.c.fanned_out.is_(False))
                                         .values(fanned_out=True).execution_options(synchronize_session=False))
        if flipped.rowcount != 1:
            continue
        for sub in subs:
            if wants(sub, ev):
                session.add(WebhookDelivery(subscription_id=sub.id, event_seq=ev.seq, parcel_id=ev.parcel_id,
                                            state=PENDING, attempts=0, next_attempt_at=ev.created_at,
                                            created_at=ev.created_at))
    await session.commit()
    return len(events)


@dataclass(frozen=True, slots=True)
class Claimed:
    """What the sender needs, read inside the claim so it can send with no session open."""

    delivery_id: int
    subscription_id: str
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes
    attempt: int          # 1 for the first try


async def claim(session: AsyncSession, now: datetime, limit: int, lease_s: float) -> list[Claimed]:
    """Due deliveries of enabled subscriptions, each the oldest pending of its (subscription,
    parcel); leased to this worker until ``now + lease_s``. Commits."""
    from ground_control.webhooks.payload import body_of

    earlier = aliased(WebhookDelivery)
    stmt = (
        select(WebhookDelivery)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.state == PENDING, WebhookSubscription.enabled.is_(True),
               WebhookDelivery.next_attempt_at <= now,
               (WebhookDelivery.lease_until.is_(None)) | (WebhookDelivery.lease_until < now),
               ~exists().where(and_(earlier.subscription_id == WebhookDelivery.subscription_id,
                                    earlier.parcel_id == WebhookDelivery.parcel_id,
                                    earlier.state == PENDING, earlier.event_seq < WebhookDelivery.event_seq)))
        .order_by(WebhookDelivery.event_seq).limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    rows = (await session.scalars(stmt)).all()
    out: list[Claimed] = []
    table = WebhookDelivery.__table__
    for d in rows:
        # compare-and-set: where SKIP LOCKED does not exist (SQLite) two workers may read the
        # same row; only the one whose update still finds it unleased sends it
        taken = await session.execute(
            update(table).where(table.c.id == d.id, table.c.state == PENDING,
                                (table.c.lease_until.is_(None)) | (table.c.lease_until < now))
            .values(lease_until=now + timedelta(seconds=lease_s)).execution_options(synchronize_session=False))
        if taken.rowcount != 1:
            continue
        sub = await session.get(WebhookSubscription, d.subscription_id)
        ev = await session.get(WebhookEvent, d.event_seq)
        if sub is None or ev is None:
            continue
        out.append(Claimed(d.id, sub.id, sub.url, sub.secret, ev.id, ev.type, body_of(ev), d.attempts + 1))
    await session.commit()
    return out


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    latency_ms: float
    at: datetime

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float
    cap_s: float
    max_attempts: int
    disable_after: int


async def record(session: AsyncSession, c: Claimed, o: Outcome, policy: RetryPolicy,
                 rand: random.Random | None = None) -> None:
    """Log the attempt; mark delivered, schedule a retry, or give up (dead); count the
    subscription's consecutive failures and disable it at the limit. Commits."""
    d = await session.get(WebhookDelivery, c.delivery_id)
    if d is None:       # the subscription was deleted meanwhile
        await session.rollback()
        return
    session.add(WebhookAttempt(delivery_id=d.id, at=o.at, status_code=o.status_code,
                               error=(o.error or None) and o.error[:2000], latency_ms=o.latency_ms))
    d.attempts = c.attempt
    d.last_status, d.last_error, d.lease_until = o.status_code, (o.error or None) and o.error[:2000], None
    subs = WebhookSubscription.__table__
    if o.ok:
        d.state, d.delivered_at = DELIVERED, o.at
        await session.execute(update(subs).where(subs.c.id == c.subscription_id).values(consecutive_failures=0))
    else:
        if c.attempt >= policy.max_attempts:
            d.state = DEAD
        else:
            d.next_attempt_at = o.at + timedelta(seconds=retry_delay(c.attempt, policy.base_s, policy.cap_s, rand))
        await session.execute(update(subs).where(subs.c.id == c.subscription_id)
                              .values(consecutive_failures=subs.c.consecutive_failures + 1))
        await session.execute(
            update(subs).where(subs.c.id == c.subscription_id, subs.c.enabled.is_(True),
                               subs.c.consecutive_failures >= policy.disable_after)
            .values(enabled=False, disabled_reason=f"disabled after {policy.disable_after} consecutive failed "
                    f"deliveries; last: {o.status_code or o.error}"[:2000]))
    await session.commit()
