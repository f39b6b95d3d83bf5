"""Subscriptions and their deliveries as the API sees them: create (with a fresh secret),
update, re-enable, replay. Each function works in the caller's session and commits nothing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import WebhookDelivery, WebhookEvent, WebhookSubscription, utcnow
from ground_control.webhooks.queue import PENDING, wants
from ground_control.webhooks.signer import new_secret

#: a time-range replay touches at most this many events (ask again for the rest)
MAX_REPLAY = 10_000


def create(session: AsyncSession, url: str, event_types: list[str], hub_id: str | None, description: str,
           owner: str | None = None) -> WebhookSubscription:
    now = utcnow()
    sub = WebhookSubscription(id="wh_" + uuid.uuid4().hex, url=url, event_types=sorted(set(event_types)),
                              hub_id=hub_id, description=description, owner=owner, secret=new_secret(), enabled=True,
                              consecutive_failures=0, created_at=now, updated_at=now)
    session.add(sub)
    return sub


async def enable(session: AsyncSession, sub: WebhookSubscription) -> None:
    """Back on, failure count reset, and its waiting deliveries due now (not at their backoff)."""
    sub.enabled, sub.disabled_reason, sub.consecutive_failures = True, None, 0
    await session.execute(update(WebhookDelivery).where(
        WebhookDelivery.subscription_id == sub.id, WebhookDelivery.state == PENDING,
    ).values(next_attempt_at=utcnow()))


def delivery_out(d: WebhookDelivery, ev: WebhookEvent, log: list[Any] | None = None) -> dict[str, Any]:
    return {"id": d.id, "event_id": ev.id, "event_type": ev.type, "parcel_id": d.parcel_id, "state": d.state,
            "attempts": d.attempts, "next_attempt_at": d.next_attempt_at, "last_status": d.last_status,
            "last_error": d.last_error, "delivered_at": d.delivered_at, "created_at": d.created_at, "log": log}


def replay_one(d: WebhookDelivery) -> None:
    """Send again from scratch (a fresh attempt budget); the receiver sees the same event id."""
    d.state, d.attempts, d.next_attempt_at, d.lease_until = PENDING, 0, utcnow(), None


async def replay_range(session: AsyncSession, sub: WebhookSubscription, since: datetime, until: datetime) -> int:
    """Every event the subscription takes that happened in [since, until): its delivery is sent
    again, or created if there was none (the subscription did not exist yet, or took other
    types then). Returns how many."""
    events = (await session.scalars(
        select(WebhookEvent).where(WebhookEvent.created_at >= since, WebhookEvent.created_at < until,
                                   WebhookEvent.fanned_out.is_(True))
        .order_by(WebhookEvent.seq).limit(MAX_REPLAY))).all()
    have = {d.event_seq: d for d in (await session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == sub.id,
        WebhookDelivery.event_seq.in_([e.seq for e in events])))).all()} if events else {}
    n = 0
    now = utcnow()
    for ev in events:
        d = have.get(ev.seq)
        if d is not None:
            replay_one(d)
        elif ev.type in sub.event_types and (sub.hub_id is None or sub.hub_id == ev.hub_id):
            session.add(WebhookDelivery(subscription_id=sub.id, event_seq=ev.seq, parcel_id=ev.parcel_id,
                                        state=PENDING, attempts=0, next_attempt_at=now, created_at=now))
        else:
            continue
        n += 1
    return n


__all__ = ["create", "enable", "replay_one", "replay_range", "delivery_out", "wants"]
