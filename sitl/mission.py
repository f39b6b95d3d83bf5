"""Mission items as the autopilot stores them (MISSION_ITEM_INT fields, 1e7-degree ints).

Seq 0 of a MISSION is home, as in ArduPilot: whatever a GCS uploads at seq 0 is replaced by home.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MAV_CMD_NAV_WAYPOINT = 16
MAV_CMD_NAV_LOITER_UNLIM = 17
MAV_CMD_NAV_LOITER_TURNS = 18
MAV_CMD_NAV_LOITER_TIME = 19
MAV_CMD_NAV_RETURN_TO_LAUNCH = 20
MAV_CMD_NAV_LAND = 21
MAV_CMD_NAV_TAKEOFF = 22
MAV_CMD_NAV_DELAY = 93
MAV_CMD_DO_CHANGE_SPEED = 178
MAV_CMD_DO_GRIPPER = 211
MAV_CMD_DO_SET_SERVO = 183

#: NAV commands the simulator flies; every other id < MAV_CMD_NAV_LAST (95) is treated as a NAV
#: command that completes immediately, and ids above it as DO/condition commands (AP_Mission rule).
MAV_CMD_NAV_LAST = 95

FRAME_GLOBAL = 0
FRAME_GLOBAL_RELATIVE_ALT = 3
FRAME_GLOBAL_INT = 5
FRAME_GLOBAL_RELATIVE_ALT_INT = 6
FRAME_GLOBAL_TERRAIN_ALT = 10
FRAME_GLOBAL_TERRAIN_ALT_INT = 11

MISSION_TYPE_MISSION = 0
MISSION_TYPE_FENCE = 1
MISSION_TYPE_RALLY = 2


@dataclass(frozen=True)
class MissionItem:
    seq: int
    command: int
    frame: int = FRAME_GLOBAL_RELATIVE_ALT_INT
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: int = 0  # lat * 1e7
    y: int = 0  # lon * 1e7
    z: float = 0.0
    autocontinue: int = 1
    mission_type: int = MISSION_TYPE_MISSION

    @property
    def is_nav(self) -> bool:
        return self.command < MAV_CMD_NAV_LAST

    @property
    def lat(self) -> float:
        return self.x / 1e7

    @property
    def lon(self) -> float:
        return self.y / 1e7

    def with_seq(self, seq: int) -> "MissionItem":
        return replace(self, seq=seq)


def item_from_msg(msg) -> MissionItem:
    """Build an item from a decoded MISSION_ITEM or MISSION_ITEM_INT (float degrees in the former)."""
    if msg.get_type() == "MISSION_ITEM":
        x, y = int(round(msg.x * 1e7)), int(round(msg.y * 1e7))
        frame = msg.frame
    else:
        x, y = int(msg.x), int(msg.y)
        frame = msg.frame
    return MissionItem(seq=msg.seq, command=msg.command, frame=frame, param1=msg.param1,
                       param2=msg.param2, param3=msg.param3, param4=msg.param4, x=x, y=y,
                       z=msg.z, autocontinue=msg.autocontinue,
                       mission_type=getattr(msg, "mission_type", 0))


def relative_alt(item: MissionItem, home_amsl_m: float) -> float:
    """Item altitude above home in metres (terrain frames are treated as relative: flat world)."""
    if item.frame in (FRAME_GLOBAL, FRAME_GLOBAL_INT):
        return item.z - home_amsl_m
    return item.z
