"""The parcel lifecycle as a pure state machine (no I/O), so the API, dispatch and ingest all
obey the same rules and an illegal move is refused before anything is written.

    created -> planned -> dispatched -> in_transit -> delivered | delivery_failed
    created -> returned                             (the sender cancels before it left the hub)
    delivery_failed -> created (back to planning) | returned (attempts exhausted)
    planned -> created                              (mission rejected / never accepted / cancelled)
    dispatched | in_transit -> created             (the vehicle came back with it: ``returned``)
    dispatched | in_transit | delivery_failed -> lost   (an operator declared its vehicle lost)
    lost -> created (found back at the hub) | returned (to sender) | delivered (the vehicle's
                                                    late proof)

A vehicle going offline changes nothing here: "offline" means "we cannot hear it", and its
parcels stay aboard until the vehicle itself, a command it acknowledges, or an operator's
explicit "lost" decision moves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ParcelState(StrEnum):
    created = "created"
    planned = "planned"
    dispatched = "dispatched"
    in_transit = "in_transit"
    delivered = "delivered"
    delivery_failed = "delivery_failed"
    returned = "returned"
    lost = "lost"          # aboard a vehicle an operator declared lost


S = ParcelState

TRANSITIONS: dict[ParcelState, frozenset[ParcelState]] = {
    S.created: frozenset({S.planned, S.returned}),   # returned: the sender cancels before it leaves
    S.planned: frozenset({S.dispatched, S.created}),
    S.dispatched: frozenset({S.in_transit, S.created, S.lost}),
    S.in_transit: frozenset({S.delivered, S.delivery_failed, S.created, S.lost}),
    S.delivery_failed: frozenset({S.created, S.returned, S.lost}),
    S.lost: frozenset({S.created, S.returned, S.delivered}),
    S.delivered: frozenset(),
    S.returned: frozenset(),
}

TERMINAL: frozenset[ParcelState] = frozenset({S.delivered, S.returned})
#: on a vehicle's mission (planned onto it or physically aboard)
ON_MISSION: frozenset[ParcelState] = frozenset({S.planned, S.dispatched, S.in_transit, S.delivery_failed})


class IllegalTransition(ValueError):
    def __init__(self, current: ParcelState, target: ParcelState) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (terminal state)"
        super().__init__(f"parcel cannot go from {current.value} to {target.value} (allowed: {allowed})")
        self.current = current
        self.target = target


@dataclass(frozen=True, slots=True)
class Transition:
    """One history row: what changed, why, when, and which event (if any) caused it."""

    from_state: ParcelState
    to_state: ParcelState
    reason: str
    at: datetime
    event_id: str | None = None


def can_transition(current: ParcelState, target: ParcelState) -> bool:
    return target in TRANSITIONS[current]


def transition(
    current: ParcelState, target: ParcelState, reason: str, at: datetime, event_id: str | None = None
) -> Transition:
    """Validate one step; raise :class:`IllegalTransition` if the machine forbids it."""
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    return Transition(current, target, reason, at, event_id)


_FORWARD = [S.created, S.planned, S.dispatched, S.in_transit]


def catch_up(
    current: ParcelState, target: ParcelState, reason: str, at: datetime, event_id: str | None = None
) -> list[Transition]:
    """The steps from ``current`` to ``target`` along the forward path, for events that arrive
    out of order or after a lost one (e.g. ``delivered`` while we still think ``dispatched``).
    Each step is a legal transition; raises :class:`IllegalTransition` when none leads there."""
    if can_transition(current, target):
        return [transition(current, target, reason, at, event_id)]
    if current in _FORWARD[1:]:
        steps: list[Transition] = []
        state = current
        for nxt in _FORWARD[_FORWARD.index(current) + 1:]:
            steps.append(transition(state, nxt, reason, at, event_id))
            state = nxt
            if can_transition(state, target):
                steps.append(transition(state, target, reason, at, event_id))
                return steps
    raise IllegalTransition(current, target)


def after_failed_delivery(attempts: int, max_attempts: int) -> ParcelState:
    """Where a ``delivery_failed`` parcel goes once the vehicle is back: planning again, or
    ``returned`` to the sender when it has used up its attempts."""
    return S.returned if attempts >= max_attempts else S.created


def back_to_planning(current: ParcelState, attempts: int, max_attempts: int) -> list[ParcelState]:
    """Targets that put an undelivered parcel of a dead mission back where it belongs."""
    if current in (S.planned, S.dispatched, S.in_transit):
        return [S.created]
    if current is S.delivery_failed:
        return [after_failed_delivery(attempts, max_attempts)]
    if current is S.lost:   # the vehicle turned up at the hub with it
        return [S.created]
    return []


#: physically aboard a vehicle (once its mission was accepted)
ABOARD: frozenset[ParcelState] = frozenset({S.dispatched, S.in_transit, S.delivery_failed})


def on_declared_lost(current: ParcelState) -> ParcelState | None:
    """Where a parcel of a vehicle an operator declared lost goes: aboard -> ``lost`` (it is
    wherever the vehicle is); only planned (the mission was never accepted, so the parcel is
    still at the hub) -> back to planning; anything else stays."""
    if current in ABOARD:
        return S.lost
    if current is S.planned:
        return S.created
    return None
