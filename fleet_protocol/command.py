"""Operator commands to a vehicle. Each carries a ``command_id`` that the agent echoes in its
``command_ack`` event, and that makes a redelivered command harmless."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from fleet_protocol.base import WireModel

from fleet_protocol.mission import Identifier


class CommandAction(StrEnum):
    hold = "hold"                          # stop where you are (copter: loiter/brake, rover: HOLD)
    resume = "resume"                      # continue the mission after hold
    return_to_hub = "return_to_hub"        # RTL; undelivered parcels go back to planning
    abort = "abort"                        # give up the mission and RTL
    land_now = "land_now"                  # drone: land where it is; robot: stop (HOLD)
    handover_confirmed = "handover_confirmed"  # robot: the recipient took the parcel
    # robot: ground control refuses this handover (too many wrong codes): the parcel stays
    # aboard, reported ``delivery_failed`` reason ``handover_code``, and the robot moves on
    handover_refused = "handover_refused"


class Command(WireModel):
    command_id: Identifier
    action: CommandAction
    mission_id: Identifier | None = None
    parcel_id: Identifier | None = None
    handover_code: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _handover_names_parcel(self) -> "Command":
        if self.action in (CommandAction.handover_confirmed, CommandAction.handover_refused) and self.parcel_id is None:
            raise ValueError(f"{self.action.value} needs parcel_id")
        return self
