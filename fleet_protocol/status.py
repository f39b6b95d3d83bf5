"""Retained online/offline status. The agent's MQTT last will publishes ``offline``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from fleet_protocol.base import WireModel

from fleet_protocol.mission import VehicleType


class VehicleState(StrEnum):
    online = "online"
    offline = "offline"


class Status(WireModel):
    state: VehicleState
    vehicle_type: VehicleType | None = None
    agent_version: str = Field(default="", max_length=64)
    max_payload_kg: float | None = Field(default=None, ge=0)
