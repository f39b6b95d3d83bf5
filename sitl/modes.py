"""Vehicle kinds and ArduPilot custom flight-mode numbers.

The numbers are ArduPilot's (ArduCopter/mode.h, Rover/mode.h): an agent sets them with SET_MODE or
MAV_CMD_DO_SET_MODE and reads them back from HEARTBEAT.custom_mode, so they must match exactly.
"""

from __future__ import annotations

import enum


class VehicleKind(str, enum.Enum):
    COPTER = "copter"
    ROVER = "rover"


class CopterMode(enum.IntEnum):
    STABILIZE = 0
    ACRO = 1
    ALT_HOLD = 2
    AUTO = 3
    GUIDED = 4
    LOITER = 5
    RTL = 6
    CIRCLE = 7
    LAND = 9
    POSHOLD = 16
    BRAKE = 17
    SMART_RTL = 21


class RoverMode(enum.IntEnum):
    MANUAL = 0
    ACRO = 1
    STEERING = 3
    HOLD = 4
    LOITER = 5
    FOLLOW = 6
    SIMPLE = 7
    AUTO = 10
    RTL = 11
    SMART_RTL = 12
    GUIDED = 15


#: modes the simulator implements; other valid ArduPilot numbers are refused like unknown modes
SUPPORTED: dict[VehicleKind, set[int]] = {
    VehicleKind.COPTER: {0, 3, 4, 5, 6, 9, 17},
    VehicleKind.ROVER: {0, 4, 10, 11, 12, 15},
}

#: the mode a freshly booted vehicle is in (ArduPilot boots copter in STABILIZE, rover in MANUAL)
INITIAL_MODE: dict[VehicleKind, int] = {
    VehicleKind.COPTER: CopterMode.STABILIZE,
    VehicleKind.ROVER: RoverMode.MANUAL,
}


def mode_name(kind: VehicleKind, number: int) -> str:
    """Name of a custom mode number as pymavlink's mode mapping would print it."""
    enum_cls = CopterMode if kind is VehicleKind.COPTER else RoverMode
    try:
        return enum_cls(number).name
    except ValueError:
        return f"MODE({number})"


def mode_number(kind: VehicleKind, name: str) -> int:
    """Inverse of :func:`mode_name` (case-insensitive)."""
    enum_cls = CopterMode if kind is VehicleKind.COPTER else RoverMode
    return int(enum_cls[name.upper()])
