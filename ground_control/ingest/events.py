"""Vehicle events -> stored once (by envelope id) and applied to missions and parcels in the
same transaction. Events may arrive twice, late or out of order: duplicates are skipped,
missed steps are caught up along the legal forward path, and events about a mission or parcel
that has moved on are recorded with a note but change nothing."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fleet_protocol import Command as ProtoCommand, CommandAction, Envelope
from ground_control.db.models import Command, Event, Mission, Parcel, utcnow
from ground_control.db.repositories import apply_transitions
from ground_control.dispatch.reassign import ACTIVE_MISSION_STATES, fail_mission, mission_parcels, release_parcels
from ground_control.domain.parcel_lifecycle import IllegalTransition, ParcelState
from ground_control.ingest.handover_proof import apply_verdict, code_verdict

log = logging.getLogger(__name__)
S = ParcelState


@dataclass
class Outcome:
    duplicate: bool = False
    replan: bool = False          # parcels went back to planning / a vehicle became free
    note: str = ""
    notes: list[str] = field(default_factory=list)


def _ids(body: Any) -> tuple[str | None, str | None]:
    return getattr(body, "mission_id", None), getattr(body, "parcel_id", None)


async def store_and_apply(session: AsyncSession, env: Envelope[Any], *, max_attempts: int) -> Outcome:
    """One transaction: insert the event row (unique id) and apply it. Commits on success."""
    eid = str(env.id)
    if await session.get(Event, eid) is not None:
        return Outcome(duplicate=True)
    body = env.body
    mission_id, parcel_id = _ids(body)
    row = Event(id=eid, vehicle_id=env.vehicle_id, kind=body.kind, mission_id=mission_id, parcel_id=parcel_id,
                seq=env.seq, ts=env.ts, received_at=utcnow(), body=body.model_dump(mode="json"))
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:   # another replica/consumer stored it first
        await session.rollback()
        return Outcome(duplicate=True)
    out = Outcome()
    handler = _HANDLERS.get(body.kind)
    if handler is not None:
        await handler(session, env, out, max_attempts)
    row.note = "; ".join(out.notes)[:2000] or None
    await session.commit()
    return out


async def _mission(session: AsyncSession, env: Envelope[Any], out: Outcome) -> Mission | None:
    mid = env.body.mission_id
    if mid is None:
        return None
    m = await session.get(Mission, mid)
    if m is None:
        out.notes.append(f"unknown mission {mid}")
        return None
    if m.vehicle_id != env.vehicle_id:
        out.notes.append(f"mission {mid} belongs to {m.vehicle_id}, not {env.vehicle_id}")
        return None
    return m


def _queue_abort(session: AsyncSession, m: Mission, why: str) -> None:
    """The vehicle is about to fly a mission we have given up on (its parcels may already be on
    another vehicle): tell it to abort."""
    cmd = ProtoCommand(command_id=f"abort-{m.id}"[:64], action=CommandAction.abort, mission_id=m.id)
    # unique per abort (two in the same second, e.g. a cancel and a late accept, must not clash)
    session.add(Command(id=f"{cmd.command_id[:47]}-{uuid.uuid4().hex[:16]}", vehicle_id=m.vehicle_id,
                        action=cmd.action.value, mission_id=m.id))
    log.warning("abort queued for mission %s of %s: %s", m.id, m.vehicle_id, why)


def _move(session: AsyncSession, p: Parcel, target: ParcelState, reason: str, eid: str, out: Outcome) -> bool:
    try:
        apply_transitions(session, p, target, reason, event_id=eid, allow_catch_up=True)
        return True
    except IllegalTransition as exc:
        out.notes.append(f"parcel {p.id}: {exc}")
        return False


async def _accepted(session: AsyncSession, env: Envelope[Any], out: Outcome, _max: int) -> None:
    m = await _mission(session, env, out)
    if m is None:
        return
    if m.state == "failed":
        _queue_abort(session, m, "it reports accepted for a failed mission")
        out.notes.append("late accept of a failed mission: abort sent")
        return
    if m.state == "sent":
        m.state = "accepted"
    for p in await mission_parcels(session, m.id):
        if p.state == S.planned.value:
            _move(session, p, S.dispatched, f"mission {m.id} accepted", str(env.id), out)


async def _started(session: AsyncSession, env: Envelope[Any], out: Outcome, _max: int) -> None:
    m = await _mission(session, env, out)
    if m is None:
        return
    if m.state == "failed":
        _queue_abort(session, m, "it reports started for a failed mission")
        return
    if m.state in ("sent", "accepted"):
        m.state = "started"
    for p in await mission_parcels(session, m.id):
        if p.state in (S.planned.value, S.dispatched.value):
            _move(session, p, S.in_transit, f"mission {m.id} started", str(env.id), out)


async def _parcel_of(session: AsyncSession, env: Envelope[Any], out: Outcome) -> Parcel | None:
    p = await session.get(Parcel, env.body.parcel_id)
    if p is None:
        out.notes.append(f"unknown parcel {env.body.parcel_id}")
        return None
    if p.mission_id != env.body.mission_id:
        out.notes.append(f"parcel {p.id} is not on mission {env.body.mission_id} (now {p.mission_id}, {p.state})")
        return None
    return p


async def _delivered(session: AsyncSession, env: Envelope[Any], out: Outcome, max_attempts: int) -> None:
    """Apply the proof, then hold a robot's handover claim against the parcel's code."""
    verified = await code_verdict(await session.get(Parcel, env.body.parcel_id), env.body.proof)
    await _apply_delivered(session, env, out, max_attempts)
    p = await session.get(Parcel, env.body.parcel_id)
    note = apply_verdict(p, str(env.id), verified) if p is not None else None
    if note:
        out.notes.append(note)
        log.warning("%s (event %s from %s)", note, env.id, env.vehicle_id)


async def _apply_delivered(session: AsyncSession, env: Envelope[Any], out: Outcome, max_attempts: int) -> None:
    p = await session.get(Parcel, env.body.parcel_id)
    if p is not None and p.mission_id != env.body.mission_id and p.state != S.delivered.value:
        if await _late_proof(session, env, p, out, max_attempts):
            return
    p = await _parcel_of(session, env, out)
    if p is None:
        return
    if p.state == S.delivered.value:
        return
    if _move(session, p, S.delivered, f"delivered by {env.vehicle_id}", str(env.id), out):
        _store_proof(p, env)


def _store_proof(p: Parcel, env: Envelope[Any]) -> None:
    p.proof = {**env.body.proof.model_dump(mode="json"), "vehicle_id": env.vehicle_id,
               "mission_id": env.body.mission_id, "event_id": str(env.id)}
    p.attempts += 1


async def _late_proof(session: AsyncSession, env: Envelope[Any], p: Parcel, out: Outcome, max_attempts: int) -> bool:
    """``delivered`` from a vehicle whose mission we gave up on (it went offline, its parcels
    went back to planning). The proof wins while the parcel is not physically on another
    vehicle: ``created`` or ``planned`` (a mission sent but not accepted; that mission is
    cancelled: abort queued, its other parcels re-planned). Once ``dispatched``/``in_transit``
    elsewhere the event is only recorded with a note. Returns False when the event is not a
    late proof at all (not this vehicle's mission, or the parcel was never on it)."""
    m = await session.get(Mission, env.body.mission_id)
    if m is None or m.vehicle_id != env.vehicle_id or p.id not in (m.parcel_ids or []) \
            or m.state in ACTIVE_MISSION_STATES:
        return False
    if p.state not in (S.created.value, S.planned.value):
        note = (f"late proof of delivery for parcel {p.id} from {env.vehicle_id} not applied: "
                f"it is {p.state} on mission {p.mission_id} of {p.vehicle_id}")
        out.notes.append(note)
        log.warning("%s (event %s): check the parcel", note, env.id)
        return True
    reason = f"late proof of delivery from {env.vehicle_id}"
    other = await session.get(Mission, p.mission_id) if p.mission_id else None
    p.mission_id, p.vehicle_id = m.id, env.vehicle_id
    if p.state == S.created.value:
        # created -> delivered is no transition; go the forward path, every step saying why
        apply_transitions(session, p, S.planned, reason, event_id=str(env.id))
    if not _move(session, p, S.delivered, reason, str(env.id), out):
        return True
    _store_proof(p, env)
    out.notes.append(f"parcel {p.id}: {reason} (mission {m.id})")
    log.warning("parcel %s: %s on mission %s (%s)", p.id, reason, m.id, m.state)
    if other is not None and other.state in ACTIVE_MISSION_STATES:
        await session.flush()   # the parcel has left ``other``: release only what is still on it
        back = await fail_mission(session, other, f"parcel {p.id} delivered meanwhile ({reason})",
                                  max_attempts=max_attempts, event_id=str(env.id))
        _queue_abort(session, other, f"cancelled (parcel {p.id} already delivered)")
        out.replan = True
        out.notes.append(f"mission {other.id} cancelled, {len(back)} parcel(s) back to planning")
    return True


async def _delivery_failed(session: AsyncSession, env: Envelope[Any], out: Outcome, _max: int) -> None:
    p = await _parcel_of(session, env, out)
    if p is None or p.state == S.delivery_failed.value:
        return
    if _move(session, p, S.delivery_failed, f"delivery failed: {env.body.reason} {env.body.detail}".strip(), str(env.id), out):
        p.attempts += 1


#: refusals that say nothing against the vehicle taking these parcels later
NOT_THE_VEHICLE = frozenset({"busy", "expired", "duplicate"})


async def _rejected(session: AsyncSession, env: Envelope[Any], out: Outcome, max_attempts: int) -> None:
    m = await _mission(session, env, out)
    if m is None or m.state not in ACTIVE_MISSION_STATES:
        return
    reason = env.body.reason
    if reason == "duplicate" and m.state != "sent":
        out.notes.append("duplicate copy refused; the vehicle flies the first one")
        return
    exclude = reason not in NOT_THE_VEHICLE
    back = await fail_mission(session, m, f"rejected by vehicle: {reason} {env.body.detail}".strip(),
                              max_attempts=max_attempts, exclude_vehicle=exclude, event_id=str(env.id))
    out.replan = True
    out.notes.append(f"{len(back)} parcel(s) back to planning" + (f" without {m.vehicle_id}" if exclude else ""))


async def _returned(session: AsyncSession, env: Envelope[Any], out: Outcome, max_attempts: int) -> None:
    m = await _mission(session, env, out)
    if m is None:
        return
    if m.state in ACTIVE_MISSION_STATES:
        m.state = "completed"
        m.updated_at = utcnow()
    back = await release_parcels(session, m, f"vehicle back at hub, mission {m.id} ended undelivered",
                                 max_attempts=max_attempts, event_id=str(env.id))
    out.replan = True
    if back:
        out.notes.append(f"{len(back)} undelivered parcel(s) back to planning")


async def _failsafe(session: AsyncSession, env: Envelope[Any], out: Outcome, _max: int) -> None:
    log.warning("failsafe on %s: %s -> %s %s", env.vehicle_id, env.body.reason, env.body.action, env.body.detail)


async def _command_ack(session: AsyncSession, env: Envelope[Any], out: Outcome, _max: int) -> None:
    cmd = await session.get(Command, env.body.command_id)
    if cmd is None or cmd.vehicle_id != env.vehicle_id:
        out.notes.append(f"ack for unknown command {env.body.command_id}")
        return
    cmd.acked = env.body.accepted
    cmd.ack_detail = env.body.detail


_HANDLERS = {
    "accepted": _accepted, "started": _started, "delivered": _delivered, "delivery_failed": _delivery_failed,
    "rejected": _rejected, "returned": _returned, "failsafe": _failsafe, "command_ack": _command_ack,
}
