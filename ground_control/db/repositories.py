"""Small data-access helpers shared by the API, dispatch and ingest. Parcel state changes go
through :func:`apply_transitions` only (creation through :func:`record_created`), so every change
is checked by the pure state machine and leaves a history row and its webhook event (outbox) in
the caller's transaction (all or nothing)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping, Sequence, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import ParcelHistory, Parcel, utcnow
from ground_control.domain.parcel_lifecycle import ParcelState, catch_up, transition
from ground_control.webhooks.outbox import stage_transition

T = TypeVar("T")


class NotFound(LookupError):
    """An id that does not exist (404)."""


class Conflict(ValueError):
    """The request is valid but contradicts the current state (409)."""


class Invalid(ValueError):
    """Well-formed but refers to something that does not exist, or similar (422)."""


async def get_or_404(session: AsyncSession, model: type[T], key: Any, what: str) -> T:
    obj = await session.get(model, key)
    if obj is None:
        raise NotFound(f"{what} {key!r} not found")
    return obj


class SortOrder(StrEnum):
    """Direction of every list. ``asc`` (oldest or lowest id first) is the default everywhere:
    with offset paging, rows added while a client pages land on the last page instead of
    shifting the pages it has not read yet."""

    asc = "asc"
    desc = "desc"


async def paginate(session: AsyncSession, stmt: Select[Any], limit: int, offset: int,
                   filters: Mapping[Any, Any] | None = None, *, order_by: Sequence[Any] = (),
                   order: SortOrder = SortOrder.asc) -> dict[str, Any]:
    """One page of ``stmt`` as ``{items, total, limit, offset}``. ``filters`` maps a column to the
    value it must equal; a filter whose value is ``None`` was not asked for and is skipped.
    ``order_by`` lists the sort columns (the last one unique, so pages never overlap), each
    sorted in ``order``."""
    for column, value in (filters or {}).items():
        if value is not None:
            stmt = stmt.where(column == getattr(value, "value", value))
    if order_by:
        stmt = stmt.order_by(*(c.desc() if order is SortOrder.desc else c.asc() for c in order_by))
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = (await session.scalars(stmt.limit(limit).offset(offset))).all()
    return {"items": rows, "total": int(total or 0), "limit": limit, "offset": offset}


def apply_transitions(
    session: AsyncSession,
    parcel: Parcel,
    target: ParcelState,
    reason: str,
    *,
    event_id: str | None = None,
    at: datetime | None = None,
    allow_catch_up: bool = False,
) -> None:
    """Move ``parcel`` to ``target`` (via the forward path if ``allow_catch_up``), recording
    each step. Raises IllegalTransition before touching anything if it is not allowed."""
    at = at or utcnow()
    current = ParcelState(parcel.state)
    steps = (catch_up if allow_catch_up else lambda *a: [transition(*a)])(current, target, reason, at, event_id)
    for step in steps:
        session.add(ParcelHistory(
            parcel_id=parcel.id, from_state=step.from_state.value, to_state=step.to_state.value,
            reason=step.reason[:2000], at=step.at, event_id=step.event_id, mission_id=parcel.mission_id,
        ))
        stage_transition(session, parcel, step.from_state.value, step.to_state.value, step.reason, step.at)
    parcel.state = target.value
    parcel.updated_at = at
    if target is ParcelState.created:
        parcel.mission_id = None
        parcel.vehicle_id = None
    # a new state, a new story: dispatch (or the caller) says afresh why it waits, if it does
    parcel.waiting_reason = None
    parcel.waiting_since = None


def record_created(session: AsyncSession, parcel: Parcel) -> None:
    """The history row and webhook event of a parcel just added (and flushed) by the caller."""
    at = utcnow()
    session.add(ParcelHistory(parcel_id=parcel.id, from_state=None, to_state="created", reason="created", at=at))
    stage_transition(session, parcel, None, "created", "created", at)
