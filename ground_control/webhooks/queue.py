"""The delivery queue in the database: fan events out to subscriptions, claim due deliveries
(several replicas on one PostgreSQL: ``FOR UPDATE SKIP LOCKED`` plus a lease column), and record
each attempt's outcome. A parcel's later event is never claimed while an earlier one for the same
subscription is still pending, so each receiver sees a parcel's events in order."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
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
    # compare-and-set, as in claim: without SKIP LOCKED (SQLite) another worker may have read
    # the same events; each event is fanned out by the one whose update flips its flag
    table = WebhookEvent.__table__
    flipped = set((await session.execute(
        update(table).where(table.c.seq.in_([e.seq for e in events]), table.c.fanned_out.is_(False))
        .values(fanned_out=True).returning(table.c.seq).execution_options(synchronize_session=False))).scalars().all())
    rows = [{"subscription_id": sub.id, "event_seq": ev.seq, "parcel_id": ev.parcel_id, "state": PENDING,
             "attempts": 0, "next_attempt_at": ev.created_at, "created_at": ev.created_at}
            for ev in events if ev.seq in flipped for sub in subs if wants(sub, ev)]
    if rows:
        await session.execute(insert(WebhookDelivery), rows)
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

    # the head of each (subscription, parcel) queue, as a scalar subquery: it stays a per-row
    # probe of ix_webhook_deliveries_queue whatever the planner's statistics say (NOT EXISTS or a
    # join on a grouped subquery became 1-2 s nested loops on a fresh PostgreSQL table of 2,000)
    earlier = aliased(WebhookDelivery)
    head = (select(func.min(earlier.event_seq))
            .where(earlier.subscription_id == WebhookDelivery.subscription_id,
                   earlier.parcel_id == WebhookDelivery.parcel_id, earlier.state == PENDING)
            .correlate(WebhookDelivery).scalar_subquery())
    stmt = (
        select(WebhookDelivery)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.state == PENDING, WebhookSubscription.enabled.is_(True),
               WebhookDelivery.next_attempt_at <= now,
               (WebhookDelivery.lease_until.is_(None)) | (WebhookDelivery.lease_until < now),
               WebhookDelivery.event_seq == head)
        .order_by(WebhookDelivery.event_seq).limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    rows = (await session.scalars(stmt)).all()
    if not rows:
        await session.rollback()
        return []
    # compare-and-set in one statement: where SKIP LOCKED does not exist (SQLite) two workers
    # may read the same rows; each row goes to the one whose update still finds it unleased
    table = WebhookDelivery.__table__
    taken = set((await session.execute(
        update(table).where(table.c.id.in_([d.id for d in rows]), table.c.state == PENDING,
                            (table.c.lease_until.is_(None)) | (table.c.lease_until < now))
        .values(lease_until=now + timedelta(seconds=lease_s)).returning(table.c.id)
        .execution_options(synchronize_session=False))).scalars().all())
    rows = [d for d in rows if d.id in taken]
    subs = {x.id: x for x in (await session.scalars(select(WebhookSubscription).where(
        WebhookSubscription.id.in_({d.subscription_id for d in rows})))).all()} if rows else {}
    events = {e.seq: e for e in (await session.scalars(select(WebhookEvent).where(
        WebhookEvent.seq.in_([d.event_seq for d in rows])))).all()} if rows else {}
    out: list[Claimed] = []
    for d in rows:
        sub, ev = subs.get(d.subscription_id), events.get(d.event_seq)
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


async def record(session: AsyncSession, results: list[tuple[Claimed, Outcome]], policy: RetryPolicy,
                 rand: random.Random | None = None) -> None:
    """Log each attempt; mark delivered, schedule a retry, or give up (dead); count each
    subscription's consecutive failures and disable it at the limit. One transaction. Commits."""
    if not results:
        return
    rows = {d.id: d for d in (await session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.id.in_([c.delivery_id for c, _ in results])))).all()}
    streak: dict[str, tuple[int, bool, Outcome]] = {}   # sub -> (failures after its last success, any success, last)
    for c, o in sorted(results, key=lambda r: r[1].at):
        d = rows.get(c.delivery_id)
        if d is None:       # the subscription was deleted meanwhile
            continue
        err = (o.error or None) and o.error[:2000]
        session.add(WebhookAttempt(delivery_id=d.id, at=o.at, status_code=o.status_code, error=err,
                                   latency_ms=o.latency_ms))
        d.attempts, d.last_status, d.last_error, d.lease_until = c.attempt, o.status_code, err, None
        fails, reset, _ = streak.get(c.subscription_id, (0, False, o))
        if o.ok:
            d.state, d.delivered_at = DELIVERED, o.at
            streak[c.subscription_id] = (0, True, o)
        else:
            if c.attempt >= policy.max_attempts:
                d.state = DEAD
            else:
                d.next_attempt_at = o.at + timedelta(seconds=retry_delay(c.attempt, policy.base_s, policy.cap_s, rand))
            streak[c.subscription_id] = (fails + 1, reset, o)
    subs = WebhookSubscription.__table__
    for sub_id, (fails, reset, last) in streak.items():
        count = subs.c.consecutive_failures if not reset else 0
        await session.execute(update(subs).where(subs.c.id == sub_id).values(consecutive_failures=count + fails))
        if fails:
            await session.execute(
                update(subs).where(subs.c.id == sub_id, subs.c.enabled.is_(True),
                                   subs.c.consecutive_failures >= policy.disable_after)
                .values(enabled=False, disabled_reason=f"disabled after {policy.disable_after} consecutive failed "
                        f"deliveries; last: {last.status_code or last.error}"[:2000]))
    await session.commit()
