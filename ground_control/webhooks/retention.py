"""Retention of the webhook tables: deliveries that are finished (delivered, or dead after their
last attempt) longer than ``webhooks_retention_days`` go with their attempt log; then outbox
events older than that which no delivery row points at any more. Deleted in batches, each its
own short transaction, so the delivery worker and the API never wait long on it.

Never deleted: a pending delivery (due now or waiting for a retry), an event not yet fanned out,
an event any remaining delivery refers to. Replay (``/webhooks/{id}/replay``) covers what is
left, i.e. the retention window."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from ground_control.webhooks.queue import DEAD, DELIVERED

BATCH = 1000
_deliveries = WebhookDelivery.__table__
_attempts = WebhookAttempt.__table__
_events = WebhookEvent.__table__


def cutoff(now: datetime, keep_days: int) -> datetime | None:
    """Rows finished before this are past retention; None when ``keep_days`` is 0 (keep forever)."""
    return None if keep_days <= 0 else now - timedelta(days=keep_days)


def _finished_before(cut: datetime) -> ColumnElement[bool]:
    # next_attempt_at is when the last attempt was due (a replay resets it to the replay's time):
    # the (state, next_attempt_at) index finds candidates, delivered_at is exact for delivered rows
    d = _deliveries.c
    return and_(d.state.in_([DELIVERED, DEAD]), d.next_attempt_at < cut,
                func.coalesce(d.delivered_at, d.next_attempt_at) < cut)


def _unreferenced_before(cut: datetime) -> ColumnElement[bool]:
    e = _events.c
    return and_(e.fanned_out.is_(True), e.created_at < cut,
                ~exists().where(_deliveries.c.event_seq == e.seq))


async def _delete_deliveries(session: AsyncSession, cut: datetime, batch: int) -> tuple[int, int]:
    """One batch: (deliveries, attempts) deleted. Rows another transaction holds (a claim, a
    replay) are skipped on PostgreSQL; the state is checked again in the DELETE itself."""
    ids = list((await session.scalars(
        select(_deliveries.c.id).where(_finished_before(cut)).limit(batch)
        .with_for_update(skip_locked=True))).all())
    if not ids:
        await session.rollback()
        return 0, 0
    att = await session.execute(delete(_attempts).where(_attempts.c.delivery_id.in_(ids)))
    dels = await session.execute(delete(_deliveries).where(_deliveries.c.id.in_(ids), _finished_before(cut)))
    await session.commit()
    return dels.rowcount or 0, att.rowcount or 0


async def _delete_events(session: AsyncSession, cut: datetime, batch: int) -> int:
    seqs = list((await session.scalars(
        select(_events.c.seq).where(_unreferenced_before(cut)).limit(batch)
        .with_for_update(skip_locked=True))).all())
    if not seqs:
        await session.rollback()
        return 0
    res = await session.execute(delete(_events).where(_events.c.seq.in_(seqs), _unreferenced_before(cut)))
    await session.commit()
    return res.rowcount or 0


async def purge(session: AsyncSession, now: datetime, keep_days: int, batch: int = BATCH) -> dict[str, int]:
    """Apply retention until nothing is left to delete; returns the counts. Commits per batch."""
    counts = {"deliveries": 0, "attempts": 0, "events": 0}
    cut = cutoff(now, keep_days)
    if cut is None:
        return counts
    while True:
        n, a = await _delete_deliveries(session, cut, batch)
        counts["deliveries"] += n
        counts["attempts"] += a
        if n < batch:
            break
    while True:
        n = await _delete_events(session, cut, batch)
        counts["events"] += n
        if n < batch:
            break
    return counts
