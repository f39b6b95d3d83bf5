"""The event types a subscription may ask for, and which parcel state change raises which
(pure: the outbox hook and the API share one list)."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    created = "parcel.created"
    planned = "parcel.planned"
    dispatched = "parcel.dispatched"
    eta_changed = "parcel.eta_changed"
    arriving_soon = "parcel.arriving_soon"
    delivered = "parcel.delivered"
    delivery_failed = "parcel.delivery_failed"
    returned = "parcel.returned"
    lost = "parcel.lost"


#: parcel state entered -> event; states not listed (in_transit, back to created after a failed
#: trip) raise none: integrators asked for these milestones, not every internal step
STATE_EVENTS: dict[str, EventType] = {
    "planned": EventType.planned,
    "dispatched": EventType.dispatched,
    "delivered": EventType.delivered,
    "delivery_failed": EventType.delivery_failed,
    "returned": EventType.returned,
    "lost": EventType.lost,
}


def event_for_transition(from_state: str | None, to_state: str) -> EventType | None:
    """The event a parcel entering ``to_state`` raises (``from_state`` None: it was just created)."""
    if from_state is None and to_state == "created":
        return EventType.created
    return STATE_EVENTS.get(to_state)
