"""Who may move a parcel, by hand. Pure: the API asks :func:`operator_refusal` before it
touches anything.

A parcel aboard a vehicle leaves it only through the vehicle (its own events, or a command it
acknowledges followed by its ``returned``) or through an operator's explicit, audited "lost"
decision (``POST /vehicles/{id}/declare-lost``). A plain state change by an operator would leave
the vehicle flying a parcel that ground control re-plans onto another vehicle: a double drop.
"""

from __future__ import annotations

from ground_control.domain.parcel_lifecycle import ParcelState

S = ParcelState

#: the states an operator may move a parcel to by hand: back to planning, or back to the sender
OPERATOR_TARGETS: frozenset[ParcelState] = frozenset({S.created, S.returned})


def aboard(state: ParcelState, mission_active: bool) -> bool:
    """Is the parcel with a vehicle (or promised to one that may already be flying it)?
    planned/delivery_failed count while their mission is active; dispatched/in_transit always."""
    if state in (S.dispatched, S.in_transit):
        return True
    return state in (S.planned, S.delivery_failed) and mission_active


def operator_refusal(current: ParcelState, target: ParcelState, *, mission_active: bool,
                     vehicle_id: str | None = None, mission_id: str | None = None) -> str | None:
    """Why an operator may not move a parcel from ``current`` to ``target`` (None: allowed)."""
    if target is S.delivered:
        return "only a vehicle's delivered event (with proof) can mark a parcel delivered"
    if target is S.lost:
        return (f"a parcel becomes lost only with its vehicle: POST /vehicles/{vehicle_id or '{id}'}/declare-lost"
                " with a reason")
    if aboard(current, mission_active):
        where = f"vehicle {vehicle_id}" + (f" (mission {mission_id})" if mission_id else "")
        return (f"parcel is {current.value} aboard {where}: get it back through the vehicle "
                f"(command abort / return_to_hub / land_now, then its returned event), or declare the "
                f"vehicle lost (POST /vehicles/{vehicle_id}/declare-lost)")
    if target not in OPERATOR_TARGETS:
        return f"an operator may only move a parcel to {' or '.join(sorted(OPERATOR_TARGETS))}; {target.value} is dispatch's"
    return None   # the state machine still checks the move itself (and names the legal ones)
