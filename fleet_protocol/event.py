"""Events a vehicle reports. The envelope ``id`` is the event id: the agent keeps an event in its
outbox until the broker acknowledges it, so a subscriber may see one twice and must store it once
by that id."""

from __future__ import annotations


from enum import StrEnum
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from fleet_protocol.base import UtcTimestamp, WireModel
from fleet_protocol.geo import LatLon
from fleet_protocol.mission import Identifier, StopAction


class EventKind(StrEnum):
    accepted = "accepted"
    rejected = "rejected"
    started = "started"
    leg_reached = "leg_reached"
    delivered = "delivered"
    delivery_failed = "delivery_failed"
    returned = "returned"
    failsafe = "failsafe"
    command_ack = "command_ack"


class _Event(WireModel):
    pass


class AcceptedEvent(_Event):
    kind: Literal["accepted"] = "accepted"
    mission_id: Identifier


class RejectedEvent(_Event):
    """The mission will not be flown. ``reason`` is a stable code (schema, geofence, payload,
    energy, expired, busy, prearm, upload, duplicate); ``detail`` says why in words, for a pre-arm
    refusal the autopilot's own STATUSTEXT."""

    kind: Literal["rejected"] = "rejected"
    mission_id: Identifier | None = None
    reason: str = Field(min_length=1, max_length=64)
    detail: str = Field(default="", max_length=2_000)


class StartedEvent(_Event):
    kind: Literal["started"] = "started"
    mission_id: Identifier


class LegReachedEvent(_Event):
    """The vehicle reached the end of leg ``leg_index`` (0-based; leg i ends at stop i, the last
    leg ends at the hub)."""

    kind: Literal["leg_reached"] = "leg_reached"
    mission_id: Identifier
    leg_index: int = Field(ge=0, le=10_000)
    parcel_id: Identifier | None = None
    position: LatLon


class ProofOfDelivery(_Event):
    """What the vehicle observed when the parcel left it; it states nothing it did not see.

    ``observed`` false: the release happened while nobody watched (the agent was restarted and
    found the release item already passed); ``position``, ``distance_m`` and ``delivered_at`` are
    then absent, ``confirmed`` is false and ``reason`` says why. ``confirmed`` is true only on
    evidence (the gripper servo moving to its release PWM, the recipient's handover confirmation);
    an unconfirmed proof carries its ``reason``."""

    method: StopAction
    position: LatLon | None = None   # where the vehicle was when it released / handed over
    target: LatLon                   # the planned drop-off
    distance_m: float | None = Field(default=None, ge=0)
    delivered_at: UtcTimestamp | None = None
    confirmed: bool                  # evidence of the release / recipient confirmed handover
    handover_code: str | None = Field(default=None, max_length=64)
    observed: bool = True
    reason: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _observed_has_where_and_when(self) -> "ProofOfDelivery":
        if self.observed and (self.position is None or self.delivered_at is None or self.distance_m is None):
            raise ValueError("an observed proof needs position, distance_m and delivered_at")
        if not self.observed and self.confirmed:
            raise ValueError("a release nobody observed cannot be confirmed")
        if not self.confirmed and not self.reason:
            raise ValueError("an unconfirmed proof needs a reason")
        return self


class DeliveredEvent(_Event):
    kind: Literal["delivered"] = "delivered"
    mission_id: Identifier
    parcel_id: Identifier
    proof: ProofOfDelivery


class DeliveryFailedEvent(_Event):
    kind: Literal["delivery_failed"] = "delivery_failed"
    mission_id: Identifier
    parcel_id: Identifier
    reason: str = Field(min_length=1, max_length=64)
    detail: str = Field(default="", max_length=2_000)


class ReturnedEvent(_Event):
    """The vehicle is back at the hub and landed/stopped; ``undelivered`` go back to planning."""

    kind: Literal["returned"] = "returned"
    mission_id: Identifier
    position: LatLon
    undelivered: list[Identifier] = Field(default_factory=list)


class FailsafeEvent(_Event):
    """The autopilot or the agent left the plan: low battery, fence breach, GPS loss, link loss."""

    kind: Literal["failsafe"] = "failsafe"
    mission_id: Identifier | None = None
    reason: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, max_length=64)  # e.g. "rtl", "land", "hold"
    detail: str = Field(default="", max_length=2_000)
    position: LatLon | None = None  # reason landed_away: where it came down
    aboard: list[Identifier] | None = None  # reason landed_away: parcels still on the vehicle


class CommandAckEvent(_Event):
    kind: Literal["command_ack"] = "command_ack"
    command_id: Identifier
    action: str = Field(max_length=64)
    accepted: bool
    detail: str = Field(default="", max_length=2_000)


Event = Annotated[
    Union[
        AcceptedEvent,
        RejectedEvent,
        StartedEvent,
        LegReachedEvent,
        DeliveredEvent,
        DeliveryFailedEvent,
        ReturnedEvent,
        FailsafeEvent,
        CommandAckEvent,
    ],
    Field(discriminator="kind"),
]


