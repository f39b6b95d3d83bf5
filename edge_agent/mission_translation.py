"""fleet_protocol.Mission -> ArduPilot mission items (pure, no I/O).

Per-autopilot behaviour lives in its own translator: :class:`CopterTranslator` (ArduCopter,
drones) and :class:`RoverTranslator` (ArduRover, ground robots). Both return a
:class:`TranslatedMission`: the items to upload plus the index mapping the mission runner needs to
know which item seq means "arrived at stop i", "released parcel i", "back at the hub".

Items are a small frozen dataclass, not pymavlink objects, so this module needs nothing but the
protocol models. MAVLink numbers used are from common.xml.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet_protocol.geo import Geofence, LatLon
from fleet_protocol.mission import Mission, VehicleType
from edge_agent.release_evidence import ReleaseOutput

# MAV_CMD
NAV_WAYPOINT = 16
NAV_LOITER_TIME = 19
NAV_RETURN_TO_LAUNCH = 20
NAV_LAND = 21
NAV_TAKEOFF = 22
DO_CHANGE_SPEED = 178
DO_SET_SERVO = 183
DO_GRIPPER = 211
NAV_FENCE_POLYGON_VERTEX_INCLUSION = 5001
NAV_FENCE_POLYGON_VERTEX_EXCLUSION = 5002
# MAV_FRAME
FRAME_GLOBAL = 0
FRAME_MISSION = 2
FRAME_GLOBAL_RELATIVE_ALT = 3
# MAV_MISSION_TYPE
MISSION_TYPE_MISSION = 0
MISSION_TYPE_FENCE = 1

GRIPPER_RELEASE = 0
#: seconds the copter hovers at drop altitude before the gripper item runs
DROP_HOLD_S = 2.0


def is_nav_command(command: int) -> bool:
    """NAV commands (< 80 in ArduPilot's numbering). They produce MISSION_ITEM_REACHED, and so
    does DO_CHANGE_SPEED (ArduCopter/Rover 4.7 verify it at once): "reached" for a seq that is
    no stop's NAV item means nothing to the runner."""
    return command < 80


@dataclass(frozen=True)
class MissionItem:
    seq: int
    command: int
    frame: int = FRAME_GLOBAL_RELATIVE_ALT
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: int = 0          # lat * 1e7
    y: int = 0          # lon * 1e7
    z: float = 0.0      # altitude (m, relative to home for FRAME_GLOBAL_RELATIVE_ALT)
    autocontinue: int = 1
    mission_type: int = MISSION_TYPE_MISSION

    @property
    def lat(self) -> float:
        return self.x / 1e7

    @property
    def lon(self) -> float:
        return self.y / 1e7


@dataclass(frozen=True)
class StopMarks:
    """Where stop ``index`` lives in the item list."""

    index: int
    parcel_id: str
    arrival_seq: int              # NAV item over the drop-off (cruise alt / street level): leg end
    release_seq: int | None       # copter: the DO_GRIPPER (or DO_SET_SERVO) item
    drop_seq: int | None          # copter: the NAV item at drop altitude just before the gripper
    after_seq: int                # first item after this stop's handling (MISSION_CURRENT >= it: done)


@dataclass(frozen=True)
class TranslatedMission:
    autopilot: str                # "copter" | "rover"
    items: tuple[MissionItem, ...]
    stops: tuple[StopMarks, ...]
    final_seq: int                # the last item (RTL for copters, the hub waypoint for rovers)
    hub: LatLon
    return_start_seq: int         # first item of the return leg

    def stop_for_arrival(self, seq: int) -> StopMarks | None:
        return next((s for s in self.stops if s.arrival_seq == seq), None)

    def stop_for_drop(self, seq: int) -> StopMarks | None:
        return next((s for s in self.stops if s.drop_seq == seq), None)


def _e7(deg: float) -> int:
    return int(round(deg * 1e7))


@dataclass
class _Builder:
    items: list[MissionItem] = field(default_factory=list)

    def add(self, command: int, pos: LatLon | None = None, z: float = 0.0, **kw: float) -> int:
        seq = len(self.items)
        x, y = (_e7(pos.lat), _e7(pos.lon)) if pos is not None else (0, 0)
        self.items.append(MissionItem(seq=seq, command=command, x=x, y=y, z=z, **kw))  # type: ignore[arg-type]
        return seq

    def home(self, hub: LatLon) -> None:
        # seq 0: ArduPilot overwrites it with its home position; fill it with the hub anyway.
        self.add(NAV_WAYPOINT, hub, 0.0, frame=FRAME_GLOBAL)


class CopterTranslator:
    """ArduCopter: take off, fly the legs at cruise altitude, at each drop-off descend to drop
    altitude, release (DO_GRIPPER, or DO_SET_SERVO on the stop's own release servo), climb back,
    fly the return path and RTL (lands at home)."""

    autopilot = "copter"

    def translate(self, m: Mission, release_outputs: tuple[ReleaseOutput, ...] = ()) -> TranslatedMission:
        b = _Builder()
        hub = m.hub.position
        b.home(hub)
        b.add(NAV_TAKEOFF, hub, m.cruise_alt_m)
        b.add(DO_CHANGE_SPEED, None, 0.0, param1=1, param2=m.cruise_speed_mps, param3=-1, frame=FRAME_MISSION)
        marks = []
        for i, stop in enumerate(m.stops):
            for p in stop.path:
                b.add(NAV_WAYPOINT, p, m.cruise_alt_m)
            arrival = b.add(NAV_WAYPOINT, stop.drop_off, m.cruise_alt_m)
            drop = b.add(NAV_WAYPOINT, stop.drop_off, m.drop_alt_m, param1=DROP_HOLD_S)
            out = release_outputs[i] if i < len(release_outputs) else None
            if out is not None and not out.gripper:
                release = b.add(DO_SET_SERVO, None, 0.0, param1=out.channel, param2=out.release_pwm, frame=FRAME_MISSION)
            else:
                release = b.add(DO_GRIPPER, None, 0.0, param1=1, param2=GRIPPER_RELEASE, frame=FRAME_MISSION)
            climb = b.add(NAV_WAYPOINT, stop.drop_off, m.cruise_alt_m)
            marks.append(StopMarks(i, stop.parcel_id, arrival, release, drop, climb))
        return_start = len(b.items)
        for p in m.return_path:
            b.add(NAV_WAYPOINT, p, m.cruise_alt_m)
        final = b.add(NAV_RETURN_TO_LAUNCH)
        return TranslatedMission("copter", tuple(b.items), tuple(marks), final, hub, return_start)


class RoverTranslator:
    """ArduRover: drive the legs; the drop-off waypoint is where the runner switches to HOLD and
    waits for the handover; the mission ends with a waypoint at the hub (a rover neither lands
    nor disarms by itself: the runner HOLDs and disarms there)."""

    autopilot = "rover"

    def translate(self, m: Mission, release_outputs: tuple[ReleaseOutput, ...] = ()) -> TranslatedMission:
        b = _Builder()
        hub = m.hub.position
        b.home(hub)
        b.add(DO_CHANGE_SPEED, None, 0.0, param1=1, param2=m.cruise_speed_mps, param3=-1, frame=FRAME_MISSION)
        marks = []
        for i, stop in enumerate(m.stops):
            for p in stop.path:
                b.add(NAV_WAYPOINT, p, 0.0)
            arrival = b.add(NAV_WAYPOINT, stop.drop_off, 0.0)
            marks.append(StopMarks(i, stop.parcel_id, arrival, None, None, arrival + 1))
        return_start = len(b.items)
        for p in m.return_path:
            b.add(NAV_WAYPOINT, p, 0.0)
        final = b.add(NAV_WAYPOINT, hub, 0.0)
        return TranslatedMission("rover", tuple(b.items), tuple(marks), final, hub, return_start)


TRANSLATORS = {VehicleType.drone: CopterTranslator(), VehicleType.robot: RoverTranslator()}


def translate_mission(mission: Mission, release_outputs: tuple[ReleaseOutput, ...] = ()) -> TranslatedMission:
    return TRANSLATORS[mission.vehicle_type].translate(mission, release_outputs)


# FENCE_TYPE bits (AC_Fence): 1 = altitude ceiling, 2 = circle around home, 4 = polygons.
FENCE_TYPE_ALT_MAX, FENCE_TYPE_CIRCLE, FENCE_TYPE_POLYGON = 1, 2, 4


@dataclass(frozen=True)
class TranslatedFence:
    items: tuple[MissionItem, ...]
    params: tuple[tuple[str, float], ...]   # set in this order, before FENCE_ENABLE


def translate_fence(fence: Geofence, vehicle_type: VehicleType = VehicleType.drone) -> TranslatedFence:
    """Geofence -> MAV_MISSION_TYPE_FENCE items (one inclusion polygon then the exclusions, each
    vertex an item with param1 = the polygon's vertex count, x/y = lat/lon * 1e7) and the fence
    parameters. FENCE_TYPE is set explicitly: ArduPilot's defaults (copter 7, rover 6) include a
    300 m circle around home (FENCE_RADIUS) that would end any longer delivery in RTL."""
    items: list[MissionItem] = []

    def polygon(vertices: list[LatLon], command: int) -> None:
        ring = list(vertices)
        if len(ring) > 3 and (ring[0].lat, ring[0].lon) == (ring[-1].lat, ring[-1].lon):
            ring = ring[:-1]  # ArduPilot wants open rings
        for v in ring:
            items.append(MissionItem(
                seq=len(items), command=command, frame=FRAME_GLOBAL, param1=float(len(ring)),
                x=_e7(v.lat), y=_e7(v.lon), mission_type=MISSION_TYPE_FENCE,
            ))

    polygon(fence.inclusion.vertices, NAV_FENCE_POLYGON_VERTEX_INCLUSION)
    for ex in fence.exclusions:
        polygon(ex.vertices, NAV_FENCE_POLYGON_VERTEX_EXCLUSION)
    if vehicle_type is VehicleType.drone:
        params = (("FENCE_TYPE", float(FENCE_TYPE_ALT_MAX | FENCE_TYPE_POLYGON)),
                  ("FENCE_ALT_MAX", float(fence.ceiling_m)))
    else:
        params = (("FENCE_TYPE", float(FENCE_TYPE_POLYGON)),)
    return TranslatedFence(tuple(items), params)
