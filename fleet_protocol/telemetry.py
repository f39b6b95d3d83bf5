"""Periodic vehicle state (QoS 0: the next sample replaces a lost one)."""

from __future__ import annotations

from pydantic import Field

from fleet_protocol.base import WireModel

from fleet_protocol.geo import LatLon
from fleet_protocol.mission import Identifier


class Telemetry(WireModel):
    position: LatLon                       # alt_m: metres above home
    heading_deg: float = Field(ge=0, le=360)
    ground_speed_mps: float = Field(ge=0)
    battery_pct: float = Field(ge=0, le=100)
    battery_v: float | None = Field(default=None, ge=0)
    mode: str = Field(max_length=32)        # autopilot flight mode name, e.g. AUTO, RTL, HOLD
    armed: bool
    gps_fix: int = Field(ge=0, le=8)        # MAVLink GPS_FIX_TYPE
    agent_state: str = Field(max_length=32)  # the agent's mission state machine state
    mission_id: Identifier | None = None
    mission_seq: int | None = Field(default=None, ge=0, le=65_535)  # autopilot MISSION_CURRENT
