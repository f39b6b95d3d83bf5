"""Vehicle events -> stored once (by envelope id) and applied to missions and parcels in the
same transaction. Events may arrive twice, late or out of order: duplicates are skipped,
missed steps are caught up along the legal forward path, and events about a mission or parcel
that has moved on are recorded with a note but change nothing. A vehicle speaks only for its own
missions and the parcels on them, and a proof of delivery is measured against the parcel's own
drop-off before it counts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fleet_protocol import Envelope
from ground_control.db.models import Command, Event, Mission, Parcel, TelemetryLatest, utcnow
from ground_control.db.repositories import apply_transitions
from ground_control.dispatch.reassign import (
    ACTIVE_MISSION_STATES, fail_mission, mission_parcels, queue_abort, release_parcels,
)
from ground_control.domain.exclusions import make_exclusion
from ground_control.domain.parcel_lifecycle import IllegalTransition, ParcelState
from ground_control.ingest.handover_proof import apply_verdict, code_verdict
from ground_control.domain.proof import ProofCheck, check_proof
from ground_control.planning.model import Point

log = logging.getLogger(__name__)
S = ParcelState


@dataclass
class Outcome:
    duplicate: bool = False
    replan: bool = False          # parcels went back to planning / a vehicle became free
    note: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rules:
    """The settings event handling needs."""

    max_attempts: int
    proof_tolerance_m: float = 50.0
    exclusion_expiry_s: float = 600.0
    signed: Any = None   # the event's verified signature (signing.events.EventAuth), if any


def _ids(body: Any) -> tuple[str | None, str | None]:
    return getattr(body, "mission_id", None), getattr(body, "parcel_id", None)


async def store_and_apply(session: AsyncSession, env: Envelope[Any], *, max_attempts: int,
                          proof_tolerance_m: float = 50.0, exclusion_expiry_s: float = 600.0,
                          signed: Any = None) -> Outcome:
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
        await handler(session, env, out, Rules(max_attempts, proof_tolerance_m, exclusion_expiry_s, signed))
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


def _move(session: AsyncSession, p: Parcel, target: ParcelState, reason: str, eid: str, out: Outcome) -> bool:
    try:
        apply_transitions(session, p, target, reason, event_id=eid, allow_catch_up=True)
        return True
    except IllegalTransition as exc:
        out.notes.append(f"parcel {p.id}: {exc}")
        return False


async def _accepted(session: AsyncSession, env: Envelope[Any], out: Outcome, _rules: Rules) -> None:
    m = await _mission(session, env, out)
    if m is None:
        return
    if m.state == "failed":
        queue_abort(session, m, "it reports accepted for a failed mission")
        out.notes.append("late accept of a failed mission: abort sent")
        return
    if m.state == "sent":
        m.state = "accepted"
    for p in await mission_parcels(session, m.id):
        if p.state == S.planned.value:
            _move(session, p, S.dispatched, f"mission {m.id} accepted", str(env.id), out)


async def _started(session: AsyncSession, env: Envelope[Any], out: Outcome, _rules: Rules) -> None:
    m = await _mission(session, env, out)
    if m is None:
        return
    if m.state == "failed":
        queue_abort(session, m, "it reports started for a failed mission")
        return
    if m.state in ("sent", "accepted"):
        m.state = "started"
    for p in await mission_parcels(session, m.id):
        if p.state in (S.planned.value, S.dispatched.value):
            _move(session, p, S.in_transit, f"mission {m.id} started", str(env.id), out)


async def _parcel_of(session: AsyncSession, env: Envelope[Any], out: Outcome) -> Parcel | None:
    """The event's parcel, if it is on the event's mission AND that mission is the sender's."""
    m = await _mission(session, env, out)
    if m is None:
        return None
    p = await session.get(Parcel, env.body.parcel_id)
    if p is None:
        out.notes.append(f"unknown parcel {env.body.parcel_id}")
        return None
    if p.mission_id != m.id:
        out.notes.append(f"parcel {p.id} is not on mission {m.id} (now {p.mission_id}, {p.state})")
        return None
    return p


async def _delivered(session: AsyncSession, env: Envelope[Any], out: Outcome, rules: Rules) -> None:
    """Apply the proof, then hold a robot's handover claim against the parcel's code."""
    verified = await code_verdict(await session.get(Parcel, env.body.parcel_id), env.body.proof)
    await _apply_delivered(session, env, out, rules)
    p = await session.get(Parcel, env.body.parcel_id)
    note = apply_verdict(p, str(env.id), verified) if p is not None else None
    if note:
        out.notes.append(note)
        log.warning("%s (event %s from %s)", note, env.id, env.vehicle_id)


async def _apply_delivered(session: AsyncSession, env: Envelope[Any], out: Outcome, rules: Rules) -> None:
    m = await _mission(session, env, out)   # the sender's own mission, or nothing
    if m is None:
        return
    p = await session.get(Parcel, env.body.parcel_id)
    if p is None or p.id not in (m.parcel_ids or []):
        out.notes.append(f"parcel {env.body.parcel_id} was never on mission {m.id}")
        return
    if p.state == S.delivered.value:
        if p.mission_id != m.id:
            out.notes.append(f"parcel {p.id} was already delivered on mission {p.mission_id}")
        return
    proof = env.body.proof
    if proof.position is None:
        # an unobserved release (the agent restarted past it): nothing to measure; the proof
        # says so itself (observed: false, unconfirmed) and is stored as it came
        check = ProofCheck(distance_m=None, refusal=None)
    else:
        check = check_proof(Point(proof.position.lat, proof.position.lon), Point(*p.drop_off),
                            rules.proof_tolerance_m, proof.distance_m)
    if check.refusal is not None:
        _refuse_proof(session, env, p, m, check.refusal, out)
        return
    if p.mission_id != m.id:
        await _late_proof(session, env, p, m, check.distance_m, out, rules)
        return
    reason = f"delivered by {env.vehicle_id}"
    if p.state == S.lost.value:
        reason = f"late proof of delivery from {env.vehicle_id} (it had been declared lost)"
    if _move(session, p, S.delivered, reason, str(env.id), out):
        _store_proof(p, env, check.distance_m, rules.signed)


def _refuse_proof(session: AsyncSession, env: Envelope[Any], p: Parcel, m: Mission, refusal: str,
                  out: Outcome) -> None:
    """A proof too far from the drop-off: the parcel is not delivered. It goes to
    ``delivery_failed`` and waits there: the vehicle's ``returned`` listing it as undelivered
    brings it back to planning; otherwise an operator decides."""
    out.notes.append(f"parcel {p.id}: {refusal}")
    log.warning("proof for parcel %s from %s refused: %s", p.id, env.vehicle_id, refusal)
    if p.mission_id != m.id or p.state not in (S.planned.value, S.dispatched.value, S.in_transit.value):
        return   # not (or no longer) this mission's to fail
    if _move(session, p, S.delivery_failed, refusal, str(env.id), out):
        p.attempts += 1
        p.waiting_reason = refusal + f"; waiting for {env.vehicle_id}'s returned (undelivered) or an operator"
        p.waiting_since = utcnow()


def _store_proof(p: Parcel, env: Envelope[Any], distance_m: float | None, signed: Any = None) -> None:
    """The vehicle's proof, with ground control's own distance (its claim kept beside it), and
    when the event was signed the statement itself: signed bytes, signature, key."""
    p.proof = {**env.body.proof.model_dump(mode="json"), "distance_m": distance_m,
               "reported_distance_m": env.body.proof.distance_m, "vehicle_id": env.vehicle_id,
               "mission_id": env.body.mission_id, "event_id": str(env.id)}
    p.attempts += 1
    if signed is not None:
        p.proof_signed = signed.signed.decode("utf-8")
        p.proof_signature = signed.signature
        p.proof_key_id = signed.kid
        p.proof_public_key = signed.public_key


async def _late_proof(session: AsyncSession, env: Envelope[Any], p: Parcel, m: Mission, distance_m: float | None,
                      out: Outcome, rules: Rules) -> None:
    """``delivered`` on the sender's mission ``m`` for a parcel that has left it. Vehicles going
    offline no longer free parcels, so this is only a mission failed before the vehicle ever
    said it took it (no ack after every resend, or declared lost while only sent) whose copy it
    flew anyway. The proof wins while the parcel is not physically on another vehicle:
    ``created``, or ``planned`` on another mission that is then cancelled (abort queued, its
    other parcels re-planned). Otherwise the event is only recorded with a note."""
    if p.state not in (S.created.value, S.planned.value):
        note = (f"late proof of delivery for parcel {p.id} from {env.vehicle_id} not applied: "
                f"it is {p.state} on mission {p.mission_id} of {p.vehicle_id}")
        out.notes.append(note)
        log.warning("%s (event %s): check the parcel", note, env.id)
        return
    reason = f"late proof of delivery from {env.vehicle_id}"
    other = await session.get(Mission, p.mission_id) if p.mission_id else None
    p.mission_id, p.vehicle_id = m.id, env.vehicle_id
    if p.state == S.created.value:
        # created -> delivered is no transition; go the forward path, every step saying why
        apply_transitions(session, p, S.planned, reason, event_id=str(env.id))
    if not _move(session, p, S.delivered, reason, str(env.id), out):
        return
    _store_proof(p, env, distance_m, rules.signed)
    out.notes.append(f"parcel {p.id}: {reason} (mission {m.id})")
    log.warning("parcel %s: %s on mission %s (%s)", p.id, reason, m.id, m.state)
    if other is not None and other.state in ACTIVE_MISSION_STATES:
        await session.flush()   # the parcel has left ``other``: release only what is still on it
        back = await fail_mission(session, other, f"parcel {p.id} delivered meanwhile ({reason})",
                                  max_attempts=rules.max_attempts, event_id=str(env.id))
        queue_abort(session, other, f"cancelled (parcel {p.id} already delivered)")
        out.replan = True
        out.notes.append(f"mission {other.id} cancelled, {len(back)} parcel(s) back to planning")


async def _delivery_failed(session: AsyncSession, env: Envelope[Any], out: Outcome, _rules: Rules) -> None:
    p = await _parcel_of(session, env, out)
    if p is None or p.state == S.delivery_failed.value:
        return
    if _move(session, p, S.delivery_failed, f"delivery failed: {env.body.reason} {env.body.detail}".strip(), str(env.id), out):
        p.attempts += 1


#: refusals that say nothing against the vehicle taking these parcels later
NOT_THE_VEHICLE = frozenset({"busy", "expired", "duplicate"})


async def _rejected(session: AsyncSession, env: Envelope[Any], out: Outcome, rules: Rules) -> None:
    m = await _mission(session, env, out)
    if m is None or m.state not in ACTIVE_MISSION_STATES:
        return
    reason = env.body.reason
    if reason == "duplicate" and m.state != "sent":
        out.notes.append("duplicate copy refused; the vehicle flies the first one")
        return
    exclude = reason not in NOT_THE_VEHICLE
    exclusion = None
    if exclude:
        tel = await session.get(TelemetryLatest, m.vehicle_id)
        exclusion = make_exclusion(m.vehicle_id, reason, utcnow(), rules.exclusion_expiry_s,
                                   tel.battery_pct if tel is not None else None)
    back = await fail_mission(session, m, f"rejected by vehicle: {reason} {env.body.detail}".strip(),
                              max_attempts=rules.max_attempts, exclusion=exclusion, event_id=str(env.id))
    out.replan = True
    out.notes.append(f"{len(back)} parcel(s) back to planning" + (f" without {m.vehicle_id}" if exclude else ""))


async def _returned(session: AsyncSession, env: Envelope[Any], out: Outcome, rules: Rules) -> None:
    m = await _mission(session, env, out)
    if m is None:
        return
    if m.state in ACTIVE_MISSION_STATES:
        m.state = "completed"
        m.updated_at = utcnow()
    # a parcel whose proof was refused comes back only if the vehicle says it still has it
    listed = set(env.body.undelivered)
    keep = {p.id for p in await mission_parcels(session, m.id)
            if p.state == S.delivery_failed.value and (p.waiting_reason or "").startswith("proof_rejected")
            and p.id not in listed}
    back = await release_parcels(session, m, f"vehicle back at hub, mission {m.id} ended undelivered",
                                 max_attempts=rules.max_attempts, event_id=str(env.id), keep=keep)
    if keep:
        out.notes.append(f"{len(keep)} parcel(s) with a refused proof wait for an operator: {sorted(keep)}")
    out.replan = True
    if back:
        out.notes.append(f"{len(back)} undelivered parcel(s) back to planning")


async def _failsafe(session: AsyncSession, env: Envelope[Any], out: Outcome, _rules: Rules) -> None:
    log.warning("failsafe on %s: %s -> %s %s", env.vehicle_id, env.body.reason, env.body.action, env.body.detail)


async def _command_ack(session: AsyncSession, env: Envelope[Any], out: Outcome, _rules: Rules) -> None:
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
