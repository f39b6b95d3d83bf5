"""A mission: one vehicle's route from its hub through ordered drop-offs and back."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from fleet_protocol.base import UtcTimestamp, WireModel

from fleet_protocol.geo import Geofence, LatLon
from fleet_protocol.topics import VEHICLE_ID_PATTERN

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
VehicleId = Annotated[str, Field(pattern=VEHICLE_ID_PATTERN)]


class VehicleType(StrEnum):
    drone = "drone"
    robot = "robot"


class StopAction(StrEnum):
    release = "release"    # drone: descend to drop altitude, open the gripper
    handover = "handover"  # robot: stop and wait for the recipient's handover confirmation


class Hub(WireModel):
    hub_id: Identifier
    position: LatLon


class Stop(WireModel):
    """One drop-off. ``path`` holds the planned intermediate waypoints of the leg that leads to
    this stop (from the hub or the previous stop), excluding both ends; empty means straight."""

    parcel_id: Identifier
    drop_off: LatLon
    action: StopAction
    weight_kg: float = Field(default=0.0, ge=0, le=1_000)
    path: list[LatLon] = Field(default_factory=list, max_length=5_000)


class Mission(WireModel):
    """Idempotent by ``mission_id``: an agent flies a given id at most once."""

    mission_id: Identifier
    vehicle_id: VehicleId
    vehicle_type: VehicleType
    hub: Hub
    stops: Annotated[list[Stop], Field(min_length=1, max_length=200)]
    return_path: list[LatLon] = Field(default_factory=list, max_length=5_000)
    geofence: Geofence
    cruise_alt_m: float = Field(default=40.0, ge=0, le=10_000)
    drop_alt_m: float = Field(default=5.0, ge=0, le=10_000)
    cruise_speed_mps: float = Field(default=10.0, gt=0, le=100)
    handover_timeout_s: float = Field(default=300.0, gt=0, le=86_400)
    expires_at: UtcTimestamp | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Mission":
        ids = [s.parcel_id for s in self.stops]
        if len(set(ids)) != len(ids):
            raise ValueError("a parcel appears in more than one stop")
        expected = StopAction.release if self.vehicle_type is VehicleType.drone else StopAction.handover
        wrong = [s.parcel_id for s in self.stops if s.action is not expected]
        if wrong:
            raise ValueError(f"{self.vehicle_type.value} stops must use action {expected.value!r}: {wrong}")
        if self.vehicle_type is VehicleType.drone and self.drop_alt_m > self.cruise_alt_m:
            raise ValueError("drop_alt_m must not exceed cruise_alt_m")
        if self.cruise_alt_m > self.geofence.ceiling_m:
            raise ValueError("cruise_alt_m is above the geofence ceiling")
        return self

    @property
    def payload_kg(self) -> float:
        return sum(s.weight_kg for s in self.stops)

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at
