"""The outbox: a webhook event is a row added to the caller's session, so it commits (or rolls
back) with the parcel change that raised it; the delivery worker sends it afterwards. Nothing
here does I/O of its own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ground_control.db.models import Parcel, WebhookEvent, utcnow
from ground_control.webhooks.event_types import EventType, event_for_transition


def stage(session: AsyncSession, event_type: EventType | str, parcel_id: str, hub_id: str | None,
          data: dict[str, Any], at: datetime | None = None) -> WebhookEvent:
    """Add one event to ``session`` (synchronous: the lifecycle hook runs inside sync code)."""
    at = at or utcnow()
    row = WebhookEvent(id=str(uuid.uuid4()), type=EventType(event_type).value, parcel_id=parcel_id,
                       hub_id=hub_id, data=data, created_at=at, fanned_out=False)
    session.add(row)
    session.info[_FLAG] = True
    return row


_FLAG = "webhook_events_staged"
_on_commit: list[Callable[[], None]] = []


def notify_on_commit(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after any commit that wrote events (the local worker sends them at
    once instead of at its next poll; other replicas still poll). Returns the unsubscriber."""
    _on_commit.append(callback)
    return lambda: _on_commit.remove(callback) if callback in _on_commit else None


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        for cb in list(_on_commit):
            cb()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_FLAG, None)


async def enqueue(session: AsyncSession, event_type: EventType | str, parcel_id: str, data: dict[str, Any]) -> None:
    """For other code (the tracking ETA, say): queue ``event_type`` about ``parcel_id`` in the
    caller's transaction. ``data`` is merged into the event's ``data`` beside the parcel's state."""
    parcel = await session.get(Parcel, parcel_id)
    base = parcel_snapshot(parcel) if parcel is not None else {"parcel_id": parcel_id}
    stage(session, event_type, parcel_id, parcel.hub_id if parcel is not None else None, {**base, **data})


def parcel_snapshot(p: Parcel) -> dict[str, Any]:
    return {"parcel_id": p.id, "state": p.state, "hub_id": p.hub_id, "vehicle_id": p.vehicle_id,
            "mission_id": p.mission_id, "attempts": p.attempts}


def stage_transition(session: AsyncSession, p: Parcel, from_state: str | None, to_state: str, reason: str,
                     at: datetime) -> None:
    """The lifecycle hook: called for every recorded step of every parcel (repositories)."""
    et = event_for_transition(from_state, to_state)
    if et is None:
        return
    data = {**parcel_snapshot(p), "state": to_state, "from_state": from_state, "reason": reason,
            "at": at.isoformat()}
    stage(session, et, p.id, p.hub_id, data, at)
