"""Pure vehicle model: kinematics, modes, mission execution, fence, failsafes. No I/O.

The model is stepped with sim-time ``dt`` and answers commands with MAV_RESULT codes; everything
the vehicle would say on its own (STATUSTEXT, MISSION_ITEM_REACHED, MISSION_CURRENT changes) goes
into ``outbox`` for the MAVLink layer to drain. Behaviour follows ArduCopter / ArduRover:
DO items between two NAV items run when the first NAV item completes (AP_Mission), a copter whose
mission ends on the ground disarms and stays in AUTO, a rover stops in AUTO and stays armed.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from . import fence as fence_mod
from .battery import Battery
from .geo import LocalFrame, bearing_deg
from .gripper import ServoGripper
from .mission import (
    MAV_CMD_DO_CHANGE_SPEED,
    MAV_CMD_DO_GRIPPER,
    MAV_CMD_DO_SET_SERVO,
    MAV_CMD_NAV_DELAY,
    MAV_CMD_NAV_LAND,
    MAV_CMD_NAV_LOITER_TIME,
    MAV_CMD_NAV_LOITER_TURNS,
    MAV_CMD_NAV_LOITER_UNLIM,
    MAV_CMD_NAV_RETURN_TO_LAUNCH,
    MAV_CMD_NAV_TAKEOFF,
    MAV_CMD_NAV_WAYPOINT,
    MissionItem,
    relative_alt,
)
from .modes import INITIAL_MODE, SUPPORTED, CopterMode, RoverMode, VehicleKind, mode_name
from .params import LEGACY_COPTER, SERVO_CHANNELS, SERVO_FUNCTION_GRIPPER, default_params

# MAV_RESULT
ACCEPTED, TEMPORARILY_REJECTED, DENIED, UNSUPPORTED, FAILED = 0, 1, 2, 3, 4

# MAV_SEVERITY
SEV_CRITICAL, SEV_ERROR, SEV_WARNING, SEV_NOTICE, SEV_INFO = 2, 3, 4, 5, 6

# EKF_STATUS_REPORT flags
EKF_ATTITUDE = 1
EKF_VEL_HORIZ = 2
EKF_VEL_VERT = 4
EKF_POS_HORIZ_REL = 8
EKF_POS_HORIZ_ABS = 16
EKF_POS_VERT_ABS = 32
EKF_CONST_POS_MODE = 128
EKF_PRED_POS_HORIZ_REL = 256
EKF_PRED_POS_HORIZ_ABS = 512
EKF_UNINITIALIZED = 1024
EKF_HEALTHY = (EKF_ATTITUDE | EKF_VEL_HORIZ | EKF_VEL_VERT | EKF_POS_HORIZ_REL | EKF_POS_HORIZ_ABS
               | EKF_POS_VERT_ABS | EKF_PRED_POS_HORIZ_REL | EKF_PRED_POS_HORIZ_ABS)
EKF_NO_GPS = EKF_ATTITUDE | EKF_VEL_VERT | EKF_POS_VERT_ABS | EKF_CONST_POS_MODE

C = CopterMode
R = RoverMode
_COPTER_NEEDS_POSITION = {C.AUTO, C.GUIDED, C.LOITER, C.RTL, C.BRAKE}
_ROVER_NEEDS_POSITION = {R.AUTO, R.GUIDED, R.RTL, R.SMART_RTL, R.LOITER}
_COPTER_NOT_ARMABLE = {C.AUTO, C.RTL, C.LAND, C.BRAKE}
_ROVER_NOT_ARMABLE = {R.RTL, R.SMART_RTL}


@dataclass
class _Nav:
    """The NAV command being executed (mission item or an RTL/LAND/GUIDED sequence)."""

    seq: int
    command: int
    tn: float = 0.0
    te: float = 0.0
    talt: float = 0.0
    hold_s: float = 0.0
    phase: str = "go"
    timer: float = 0.0


class VehicleModel:
    """One simulated copter or rover. Positions are north/east metres from the EKF origin."""

    def __init__(self, kind: VehicleKind, home_lat: float, home_lon: float, home_amsl_m: float = 0.0,
                 warmup_s: float = 2.0, params: dict[str, float] | None = None,
                 battery_mah: float | None = None) -> None:
        self.kind = kind
        self.is_copter = kind is VehicleKind.COPTER
        self.frame = LocalFrame(home_lat, home_lon)
        self.home_amsl_m = home_amsl_m
        self.params: dict[str, float] = default_params(kind)
        if battery_mah is not None:
            self.params["BATT_CAPACITY"] = battery_mah
        self.warmup_s = warmup_s
        self.t = 0.0
        self.n = self.e = self.alt = 0.0
        self.heading = 0.0
        self.groundspeed = 0.0
        self.climb = 0.0
        self.armed = False
        self.mode = int(INITIAL_MODE[kind])
        self.landed = True
        self.home_set = False
        self.home_n = self.home_e = 0.0
        self.gps_lost = False
        self._ekf_ok_at: float | None = None
        self.battery = Battery(capacity_mah=self.params["BATT_CAPACITY"])
        for name, value in (params or {}).items():
            self.set_param(name, value)  # unknown names ignored, like a defaults file
        # the gripper backend is created from the parameters at boot only (AP_Gripper::init)
        self.grip: ServoGripper | None = ServoGripper.at_boot(self.params) if self.is_copter else None
        self.servo_set: dict[int, int] = {}  # DO_SET_SERVO outputs, by channel (1-based)
        self.boots = 1
        self.items: list[MissionItem] = []  # seq 0 = home placeholder, filled on demand
        self.fence_items: list[MissionItem] = []
        self.fence_geo = fence_mod.FenceGeometry()
        self.fence_breached: list[str] = []
        self.fence_breach_count = 0
        self.fence_breach_time_ms = 0
        self.mission_current = 0
        self.mission_running = False
        self.speed_override: float | None = None
        self.paused = False  # MAV_CMD_DO_PAUSE_CONTINUE in AUTO / GUIDED
        self.nav: _Nav | None = None  # active navigation (any mode)
        self.low_fs = False
        self.crit_fs = False
        self.ekf_fs = False
        self._idle_armed_s = 0.0
        self._hist_t = -1e9
        self.position_history: deque[tuple[float, float, float, float]] = deque(maxlen=20000)
        self.outbox: list[tuple[Any, ...]] = []

    # ------------------------------------------------------------------ state views
    @property
    def lat_lon(self) -> tuple[float, float]:
        return self.frame.to_latlon(self.n, self.e)

    @property
    def home_lat_lon(self) -> tuple[float, float]:
        return self.frame.to_latlon(self.home_n, self.home_e)

    @property
    def gps_fix_type(self) -> int:
        if self.gps_lost:
            return 1
        if self.t < 0.25 * self.warmup_s:
            return 0
        return 3 if self.t >= 0.5 * self.warmup_s else 1

    @property
    def ekf_ready(self) -> bool:
        return self._ekf_ok_at is not None and self.t >= self._ekf_ok_at and not self.gps_lost

    @property
    def position_ok(self) -> bool:
        return self.ekf_ready

    @property
    def ekf_flags(self) -> int:
        if self.t < 0.1 * self.warmup_s:
            return EKF_UNINITIALIZED
        return EKF_HEALTHY if self.ekf_ready else EKF_NO_GPS

    @property
    def mode_name(self) -> str:
        return mode_name(self.kind, self.mode)

    @property
    def wp_speed(self) -> float:
        if self.speed_override:
            return self.speed_override
        if self.is_copter:
            return self.params["WP_SPD"]
        return self.params["WP_SPEED"] or self.params["CRUISE_SPEED"]

    def text(self, severity: int, text: str) -> None:
        self.outbox.append(("text", severity, text))

    def nav_target(self) -> tuple[float, float, float] | None:
        """(north, east, alt) the vehicle is heading for, for NAV_CONTROLLER_OUTPUT."""
        if self.nav is None or self.nav.phase == "done":
            return None
        return self.nav.tn, self.nav.te, self.nav.talt

    # ------------------------------------------------------------------ stepping
    def step(self, dt: float) -> None:
        """Advance sim time by dt seconds (callers keep dt <= ~0.5 s for accuracy)."""
        self.t += dt
        self._update_nav_sensors()
        moved_from = (self.n, self.e, self.alt)
        if self.armed:
            self._run_mode(dt)
        d_h = math.hypot(self.n - moved_from[0], self.e - moved_from[1])
        self.groundspeed = d_h / dt if dt > 0 else 0.0
        self.climb = (self.alt - moved_from[2]) / dt if dt > 0 else 0.0
        self.battery.step(self._current_draw(), dt)
        if self.grip is not None:
            self.grip.update(self.t)
        self._check_fence()
        self._check_battery()
        self._check_auto_disarm(dt)
        if self.t - self._hist_t >= 1.0:
            self._hist_t = self.t
            lat, lon = self.lat_lon
            self.position_history.append((self.t, lat, lon, self.alt))

    def _update_nav_sensors(self) -> None:
        if self._ekf_ok_at is None and not self.gps_lost and self.t >= 0.5 * self.warmup_s:
            self._ekf_ok_at = self.t + 0.5 * self.warmup_s
            self.text(SEV_INFO, "GPS 1: detected as u-blox at 230400 baud")
        if not self.home_set and self.ekf_ready:
            self.home_set = True
            self.home_n, self.home_e = self.n, self.e
            self.text(SEV_INFO, "EKF3 IMU0 is using GPS")
            self.text(SEV_INFO, "EKF3 IMU0 origin set")
            self.outbox.append(("home",))
        if self.gps_lost and self.armed and not self.ekf_fs:
            needs = _COPTER_NEEDS_POSITION if self.is_copter else _ROVER_NEEDS_POSITION
            if self.mode in needs and not (self.is_copter and self.landed):
                self.ekf_fs = True
                # ArduPilot's HEARTBEAT with the new mode leaves before the STATUSTEXT that
                # explains it (seen on ArduCopter 4.7): a GCS must wait for the text
                if self.is_copter:
                    self._set_mode_internal(C.LAND)
                    self.text(SEV_CRITICAL, "EKF Failsafe: changed to LAND Mode")
                else:
                    self._set_mode_internal(R.HOLD)
                    self.text(SEV_CRITICAL, "EKF Failsafe: changed to HOLD Mode")

    def _current_draw(self) -> float:
        if self.is_copter:
            if not self.armed:
                return 0.4
            if self.landed:
                return 1.5
            return 14.0 + 0.4 * self.groundspeed + (4.0 if self.climb > 0.2 else 0.0)
        if not self.armed:
            return 0.3
        return 0.8 + 2.0 * self.groundspeed

    # ------------------------------------------------------------------ kinematics
    def _move_h(self, tn: float, te: float, speed: float, dt: float) -> bool:
        dn, de = tn - self.n, te - self.e
        d = math.hypot(dn, de)
        step = speed * dt
        if d <= step or d < 0.01:
            self.n, self.e = tn, te
            if d > 0.5:
                self.heading = bearing_deg(dn, de)
            return True
        self.heading = bearing_deg(dn, de)
        self.n += dn / d * step
        self.e += de / d * step
        return False

    def _move_v(self, talt: float, dt: float) -> bool:
        up = self.params["WP_SPD_UP"]
        dn = self.params["WP_SPD_DN"]
        diff = talt - self.alt
        if diff > 0:
            self.alt = min(talt, self.alt + up * dt)
        elif diff < 0:
            self.alt = max(talt, self.alt - dn * dt)
        if self.alt > 0.05:
            self.landed = False
        return abs(self.alt - talt) < 0.01

    def _descend_land(self, dt: float) -> bool:
        """Land at the current spot at LAND speeds; True once touched down."""
        fast = self.params["WP_SPD_DN"]
        slow = self.params["LAND_SPD_MS"]
        rate = fast if self.alt > self.params["LAND_ALT_LOW_M"] else slow
        self.alt = max(0.0, self.alt - rate * dt)
        if self.alt <= 0.0:
            self.landed = True
            return True
        return False

    def _descend_pilotless(self, dt: float) -> None:
        """LOITER with the throttle stick at minimum (no pilot, no RC): ArduCopter climbs/descends
        at the stick's rate, so it sinks at PILOT_SPEED_DN (0 = PILOT_SPEED_UP) until the land
        detector fires; then it sits armed on the ground and auto-disarms after DISARM_DELAY."""
        if self.landed:
            return
        rate_cms = self.params["PILOT_SPEED_DN"] or self.params["PILOT_SPEED_UP"]
        self.alt = max(0.0, self.alt - rate_cms / 100.0 * dt)
        if self.alt <= 0.0:
            self.landed = True

    def _goto(self, tn: float, te: float, talt: float, dt: float) -> bool:
        """Fly/drive towards a target; True when there."""
        if not self.is_copter:
            return self._move_h(tn, te, self.wp_speed, dt)
        if self.gps_lost:
            return False
        if self.landed and talt <= 0.0:
            return True
        h = self._move_h(tn, te, self.wp_speed, dt)
        v = self._move_v(talt, dt)
        return h and v

    # ------------------------------------------------------------------ modes
    def _run_mode(self, dt: float) -> None:
        m = self.mode
        if self.paused:
            return  # holding position (copter hovers, rover stops)
        if self.is_copter:
            if m == C.AUTO:
                self._run_auto(dt)
            elif m == C.GUIDED:
                if self.nav is not None:
                    if self.nav.command == MAV_CMD_NAV_TAKEOFF:
                        if self._move_v(self.nav.talt, dt):
                            self.nav = None
                    elif self._goto(self.nav.tn, self.nav.te, self.nav.talt, dt):
                        self.nav = None
            elif m == C.RTL:
                if self.nav is None:
                    self.nav = self._rtl_nav(-1)
                if self._run_copter_rtl(self.nav, dt):
                    self.nav = None
                    self._disarm("RTL complete")
            elif m == C.LAND:
                if self._descend_land(dt):
                    self._disarm("Land complete")
            elif m == C.LOITER:
                self._descend_pilotless(dt)
            # STABILIZE / BRAKE: hold position (BRAKE holds altitude without RC input)
        else:
            if m == R.AUTO:
                self._run_auto(dt)
            elif m == R.GUIDED and self.nav is not None:
                if self._goto(self.nav.tn, self.nav.te, 0.0, dt):
                    self.nav = None
            elif m in (R.RTL, R.SMART_RTL) and self.nav is not None:
                if self._goto(self.home_n, self.home_e, 0.0, dt):
                    self.nav = None
                    self.text(SEV_INFO, "Reached destination")

    def _rtl_nav(self, seq: int) -> _Nav:
        """ModeRTL::compute_return_target: max(current alt, RTL_ALT_M), capped 2 m (FENCE_MARGIN)
        below an enabled altitude fence."""
        talt = max(self.alt, self.params["RTL_ALT_M"])
        if self.params["FENCE_ENABLE"] and int(self.params["FENCE_TYPE"]) & fence_mod.FENCE_TYPE_ALT_MAX:
            talt = min(talt, self.params["FENCE_ALT_MAX"] - 2.0)
        return _Nav(seq=seq, command=MAV_CMD_NAV_RETURN_TO_LAUNCH, tn=self.home_n, te=self.home_e,
                    talt=talt, phase="climb")

    def _run_copter_rtl(self, nav: _Nav, dt: float) -> bool:
        """ArduCopter RTL: climb to RTL_ALT, return, loiter RTL_LOIT_TIME, land. True when landed."""
        if self.landed and nav.phase in ("climb", "go") and math.hypot(self.n - nav.tn, self.e - nav.te) < 1:
            return True
        if nav.phase == "climb":
            if self.gps_lost or self._move_v(nav.talt, dt):
                nav.phase = "go"
            return False
        if nav.phase == "go":
            if self._goto(nav.tn, nav.te, nav.talt, dt):
                nav.phase = "loiter"
                nav.timer = self.params["RTL_LOIT_TIME"] / 1000.0
            return False
        if nav.phase == "loiter":
            nav.timer -= dt
            if nav.timer <= 0:
                nav.phase = "land"
            return False
        return self._descend_land(dt)

    def _set_mode_internal(self, mode: int) -> None:
        if mode == self.mode:
            return
        if self.mode in (C.AUTO if self.is_copter else R.AUTO,):
            self.mission_running = False
        self.mode = int(mode)
        self.nav = None
        self.paused = False
        if self.is_copter and mode == C.RTL:
            self.nav = self._rtl_nav(-1)
        if not self.is_copter and mode in (R.RTL, R.SMART_RTL):
            self.nav = _Nav(seq=-1, command=MAV_CMD_NAV_RETURN_TO_LAUNCH, tn=self.home_n, te=self.home_e)
        if mode == (C.AUTO if self.is_copter else R.AUTO):
            self._mission_start_or_resume()
        self.outbox.append(("mode",))

    def set_mode(self, mode: int) -> int:
        """SET_MODE / DO_SET_MODE. Returns a MAV_RESULT."""
        if mode not in SUPPORTED[self.kind]:
            return UNSUPPORTED if mode < 0 else FAILED
        needs = _COPTER_NEEDS_POSITION if self.is_copter else _ROVER_NEEDS_POSITION
        if self.armed and mode in needs and not self.position_ok:
            self.text(SEV_WARNING, f"Mode change to {mode_name(self.kind, mode)} failed: requires position")
            return FAILED
        auto = C.AUTO if self.is_copter else R.AUTO
        if (self.is_copter and mode == auto and mode != self.mode and self.armed and self.landed
                and not self._mission_starts_with_takeoff()):
            self.text(SEV_WARNING, "Auto: Missing Takeoff Cmd")
            return FAILED
        self._set_mode_internal(mode)
        return ACCEPTED

    # ------------------------------------------------------------------ arming
    def arm(self, force: bool = False) -> int:
        if self.armed:
            return ACCEPTED
        if not force:
            failures = self._arming_failures()
            if failures:
                for f in failures:
                    self.text(SEV_CRITICAL, f)
                return FAILED
        self.armed = True
        self._idle_armed_s = 0.0
        # AP_Arming::send_arm_disarm_statustext (rover and plane say "Throttle armed")
        self.text(SEV_INFO, "Arming motors" if self.is_copter else "Throttle armed")
        if self.position_ok:  # ArduPilot moves home to where the vehicle arms
            self.home_n, self.home_e = self.n, self.e
            self.outbox.append(("home",))
        return ACCEPTED

    def _arming_failures(self) -> list[str]:
        """AP_Arming order: pre-arm checks ("PreArm: ") first; only if they pass, the arm checks
        ("Arm: ", where the mandatory position and mode checks live)."""
        pre: list[str] = []
        if self.battery.remaining_mah < max(self.params["BATT_LOW_MAH"], self.params["BATT_ARM_MAH"]) \
                or self.low_fs or self.crit_fs:
            pre.append("PreArm: Battery 1 low capacity failsafe")
        if self.params["FENCE_ENABLE"] and self.position_ok and self._fence_breaches():
            pre.append("PreArm: Fence: vehicle outside the fence")
        if pre:
            return pre
        not_armable = _COPTER_NOT_ARMABLE if self.is_copter else _ROVER_NOT_ARMABLE
        if self.mode in not_armable:
            return ["Arm: Mode not armable"]
        needs = _COPTER_NEEDS_POSITION if self.is_copter else _ROVER_NEEDS_POSITION
        # like real ArduCopter, arming only needs a GPS-based estimate to exist: between the 3D fix
        # and the EKF using GPS, ARM is accepted but TAKEOFF fails and the copter disarms itself
        if (self.mode in needs or self.params["FENCE_ENABLE"]) and self.gps_fix_type < 3:
            return ["Arm: Need Position Estimate"]
        return []

    def disarm(self, force: bool = False) -> int:
        if not self.armed:
            return ACCEPTED
        if self.is_copter and not self.landed and not force:
            self.text(SEV_CRITICAL, "Disarm: not landed")  # ArduCopter refuses to disarm in flight
            return FAILED
        self._disarm("GCS")
        return ACCEPTED

    def _disarm(self, why: str) -> None:
        if not self.armed:
            return
        self.armed = False
        self.nav = None
        if self.is_copter:
            self.alt = max(self.alt, 0.0)
        self.text(SEV_INFO, "Disarming motors" if self.is_copter else "Throttle disarmed")

    def _check_auto_disarm(self, dt: float) -> None:
        """ArduCopter disarms after DISARM_DELAY on the ground armed with nothing to do."""
        if not (self.is_copter and self.armed and self.landed):
            self._idle_armed_s = 0.0
            return
        climbing = self.nav is not None and self.nav.talt > 0
        if climbing or (self.mode == C.AUTO and self.mission_running):
            self._idle_armed_s = 0.0
            return
        self._idle_armed_s += dt
        delay = self.params["DISARM_DELAY"]
        if delay > 0 and self._idle_armed_s >= delay:
            self._disarm("auto")

    # ------------------------------------------------------------------ commands
    def takeoff(self, alt: float) -> int:
        """MAV_CMD_NAV_TAKEOFF outside AUTO (copter in GUIDED)."""
        if not self.is_copter:
            return UNSUPPORTED
        if not self.armed or self.mode != C.GUIDED or not self.landed or not self.position_ok:
            return FAILED
        self.nav = _Nav(seq=-1, command=MAV_CMD_NAV_TAKEOFF, tn=self.n, te=self.e, talt=max(alt, 1.0))
        self.landed = False
        return ACCEPTED

    def goto(self, lat: float, lon: float, alt: float | None) -> int:
        """DO_REPOSITION / SET_POSITION_TARGET_GLOBAL_INT: go there in GUIDED."""
        if not self.armed or not self.position_ok:
            return FAILED
        guided = C.GUIDED if self.is_copter else R.GUIDED
        if self.mode != guided:
            if self.set_mode(guided) != ACCEPTED:
                return FAILED
        if self.is_copter and self.landed:
            return FAILED
        tn, te = self.frame.to_ne(lat, lon)
        self.nav = _Nav(seq=-1, command=MAV_CMD_NAV_WAYPOINT, tn=tn, te=te,
                        talt=self.alt if alt is None or alt <= 0 else alt)
        return ACCEPTED

    def mission_start(self, first: int = 0, last: int = 0) -> int:
        """MAV_CMD_MISSION_START as GCS_MAVLINK_Copter handles it: first/last item -> DENIED."""
        if first or last:
            return DENIED
        auto = C.AUTO if self.is_copter else R.AUTO
        if self.set_mode(auto) != ACCEPTED:
            return FAILED
        if not self.mission_running:
            self._mission_start_or_resume()
        return ACCEPTED

    def pause_continue(self, resume: bool) -> int:
        """MAV_CMD_DO_PAUSE_CONTINUE: only AUTO and GUIDED can pause, like ArduCopter."""
        modes = (C.AUTO, C.GUIDED) if self.is_copter else (R.AUTO, R.GUIDED)
        if self.mode not in modes or not self.armed:
            return FAILED
        self.paused = not resume
        return ACCEPTED

    def set_home(self, use_current: bool, lat: float = 0.0, lon: float = 0.0) -> int:
        """MAV_CMD_DO_SET_HOME."""
        if not self.position_ok:
            return FAILED
        if use_current:
            self.home_n, self.home_e = self.n, self.e
        else:
            self.home_n, self.home_e = self.frame.to_ne(lat, lon)
        self.outbox.append(("home",))
        return ACCEPTED

    def change_speed(self, speed_type: int, speed: float) -> int:
        """MAV_CMD_DO_CHANGE_SPEED: type 0/1 ground speed, 2 climb, 3 descent (copter)."""
        if speed <= 0 or speed_type > 3:
            return DENIED
        if speed_type <= 1:
            self.speed_override = float(speed)
        elif not self.is_copter:
            return FAILED
        else:
            self.params["WP_SPD_UP" if speed_type == 2 else "WP_SPD_DN"] = float(speed)
        return ACCEPTED

    def set_mission_current(self, seq: int) -> bool:
        if not (0 <= seq < max(len(self.items), 1)):
            return False
        auto = C.AUTO if self.is_copter else R.AUTO
        if self.mode == auto and self.mission_running:
            self._start_mission_at(max(seq, 1))
        else:
            self.mission_current = seq
            self.outbox.append(("current",))
        return True

    @property
    def gripper_releases(self) -> int:
        """Times the gripper servo really moved to its release position."""
        return self.grip.releases if self.grip is not None else 0

    def gripper(self, action: int) -> int:
        """MAV_CMD_DO_GRIPPER from a GCS (GCS_MAVLINK::handle_command_do_gripper): FAILED only if
        GRIP_ENABLE is 0 *now*; otherwise ACCEPTED, even when no backend was created at boot (the
        parameter was set at run time): then nothing moves and nothing is said."""
        if not self.params.get("GRIP_ENABLE", 0):
            return FAILED
        self._gripper_act(action)
        return ACCEPTED

    def _gripper_act(self, action: int) -> None:
        if self.grip is None:
            return
        if action == 0:
            self.grip.release(self.t)
        else:
            self.grip.grab(self.t)
        for text in self.grip.drain_texts():
            self.text(SEV_INFO, text)
        self.outbox.append(("servo",))

    def _mission_gripper(self, action: int) -> None:
        """A DO_GRIPPER mission item (AP_Mission::start_command_do_gripper): the backend acts
        (if it exists) and the mission says "Gripper Released"/"Gripper Grabbed" regardless."""
        self._gripper_act(action)
        self.text(SEV_INFO, "Gripper Released" if action == 0 else "Gripper Grabbed")

    def set_servo(self, channel: int, pwm: int) -> int:
        """MAV_CMD_DO_SET_SERVO: only a channel with no function (SERVOn_FUNCTION 0) may be driven
        by hand, as ServoRelayEvents refuses channels in use."""
        if not 1 <= channel <= SERVO_CHANNELS or int(self.params.get(f"SERVO{channel}_FUNCTION", 0)) != 0:
            return FAILED
        self.servo_set[channel] = int(pwm)
        self.outbox.append(("servo",))
        return ACCEPTED

    def servo_outputs(self) -> list[int]:
        """SERVO_OUTPUT_RAW servo1..16: the gripper channel shows the gripper PWM (trim, 1500, if
        no gripper was created at boot), DO_SET_SERVO channels their PWM, motors idle/spinning."""
        out = []
        for ch in range(1, SERVO_CHANNELS + 1):
            fn = int(self.params.get(f"SERVO{ch}_FUNCTION", 0))
            if fn == SERVO_FUNCTION_GRIPPER:
                out.append(self.grip.pwm if self.grip is not None else 1500)
            elif ch in self.servo_set:
                out.append(self.servo_set[ch])
            elif 33 <= fn <= 36:
                out.append(1000 if not self.armed else (1150 if self.landed else 1500))
            else:
                out.append(0 if fn == 0 else 1500)
        return out

    def reboot(self) -> None:
        """MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN: boot again with the stored parameters, mission and
        fence (they live in ArduPilot's storage); everything else starts over, the gripper from
        the parameters as they are now."""
        kept = (dict(self.params), self.items, self.fence_items, self.fence_geo, (self.n, self.e, self.heading),
                self.battery, self.boots, self.position_history)
        home_lat, home_lon = self.frame.to_latlon(0.0, 0.0)
        self.__init__(self.kind, home_lat, home_lon, self.home_amsl_m, self.warmup_s, params=kept[0])  # type: ignore[misc]
        self.items, self.fence_items, self.fence_geo = kept[1], kept[2], kept[3]
        self.n, self.e, self.heading = kept[4]
        self.battery, self.boots, self.position_history = kept[5], kept[6] + 1, kept[7]
        self.mission_current = 1 if len(self.items) > 1 else 0

    def return_to_launch(self) -> int:
        return self.set_mode(C.RTL if self.is_copter else R.RTL)

    def land(self) -> int:
        if not self.is_copter:
            return UNSUPPORTED
        return self.set_mode(C.LAND)

    def fence_enable(self, enable: int) -> int:
        self.params["FENCE_ENABLE"] = 1.0 if enable else 0.0
        if not enable:
            self.fence_breached = []
        return ACCEPTED

    def param_names(self) -> list[str]:
        return list(self.params)

    def get_param(self, name: str) -> float | None:
        """Value of a parameter by current or pre-4.7 copter name (in that name's units)."""
        if name in self.params:
            return self.params[name]
        if self.is_copter and name in LEGACY_COPTER:
            new, scale = LEGACY_COPTER[name]
            return self.params[new] / scale
        return None

    def set_param(self, name: str, value: float) -> bool:
        if self.is_copter and name in LEGACY_COPTER:
            name, scale = LEGACY_COPTER[name]
            value = float(value) * scale
        if name not in self.params:
            return False
        self.params[name] = float(value)
        if name == "BATT_CAPACITY" and value > 0:
            self.battery.capacity_mah = float(value)
        if name == "FENCE_ENABLE" and not value:
            self.fence_breached = []
        return True

    # ------------------------------------------------------------------ mission storage
    def home_item(self) -> MissionItem:
        lat, lon = self.home_lat_lon if self.home_set else (0.0, 0.0)
        return MissionItem(seq=0, command=MAV_CMD_NAV_WAYPOINT, frame=0, x=int(round(lat * 1e7)),
                           y=int(round(lon * 1e7)), z=self.home_amsl_m)

    def set_mission(self, items: list[MissionItem]) -> None:
        """Replace the stored mission; item 0 is home whatever was uploaded."""
        self.items = [self.home_item()] + [it.with_seq(i) for i, it in enumerate(items) if i > 0]
        auto = C.AUTO if self.is_copter else R.AUTO
        if self.mode == auto and self.mission_running:
            # ArduPilot keeps flying the new list from the current index
            self._start_mission_at(min(max(self.mission_current, 1), len(self.items) - 1)) \
                if len(self.items) > 1 else self._mission_complete()
        else:
            self.mission_current = 1 if len(self.items) > 1 else 0
            self.outbox.append(("current",))

    def mission_items(self) -> list[MissionItem]:
        if not self.items:
            return [self.home_item()]
        return [self.home_item()] + self.items[1:]

    def set_fence(self, items: list[MissionItem]) -> None:
        """Raises fence.FenceError for an upload ArduPilot would refuse."""
        geo = fence_mod.geometry_from_items(items, self.frame)
        self.fence_items = list(items)
        self.fence_geo = geo
        self.fence_breached = []

    # ------------------------------------------------------------------ mission execution
    def _mission_starts_with_takeoff(self) -> bool:
        for it in self.items[1:]:
            if it.is_nav:
                return it.command == MAV_CMD_NAV_TAKEOFF
        return False

    def _mission_start_or_resume(self) -> None:
        """AP_Mission::start_or_resume: MIS_RESTART 0 resumes at the current NAV item (flown again
        from where the vehicle is), 1 starts over from item 1."""
        if len(self.items) <= 1:
            self.mission_running = False
            return
        start = self.mission_current if 1 <= self.mission_current < len(self.items) else 1
        if self.params.get("MIS_RESTART", 0):
            start = 1
        self._start_mission_at(start)

    def _start_mission_at(self, seq: int) -> None:
        self.mission_running = True
        self.speed_override = None if seq <= 1 else self.speed_override
        self._advance_from(seq)

    def _advance_from(self, seq: int) -> None:
        """Run DO items from seq until the next NAV item, then start it (AP_Mission order)."""
        i = seq
        while i < len(self.items):
            it = self.items[i]
            if it.is_nav:
                self._start_nav(it)
                return
            self._run_do(it)
            i += 1
        self._mission_complete()

    def _start_nav(self, it: MissionItem) -> None:
        self.mission_current = it.seq
        self.outbox.append(("current",))
        tn, te = (self.frame.to_ne(it.lat, it.lon) if (it.x or it.y) else (self.n, self.e))
        talt = relative_alt(it, self.home_amsl_m) if self.is_copter else 0.0
        nav = _Nav(seq=it.seq, command=it.command, tn=tn, te=te, talt=talt)
        if it.command == MAV_CMD_NAV_WAYPOINT:
            nav.hold_s = max(0.0, it.param1)
        elif it.command == MAV_CMD_NAV_LOITER_UNLIM:
            nav.hold_s = math.inf  # until the GCS moves the mission on (MISSION_SET_CURRENT)
        elif it.command == MAV_CMD_NAV_LOITER_TURNS:
            nav.hold_s = max(0.0, it.param1) * 2 * math.pi * max(it.param3, 5.0) / 5.0  # 5 m/s orbit
        elif it.command == MAV_CMD_NAV_LOITER_TIME:
            nav.hold_s = max(0.0, it.param1)
        elif it.command == MAV_CMD_NAV_DELAY:
            nav.hold_s = nav.timer = max(0.0, it.param1)
            nav.phase = "hold"
        elif it.command == MAV_CMD_NAV_TAKEOFF:
            nav.tn, nav.te = self.n, self.e
            nav.talt = max(talt, 1.0)
            if self.is_copter and self.alt >= nav.talt:
                nav.phase = "done"
        elif it.command == MAV_CMD_NAV_LAND:
            if self.is_copter and not (it.x or it.y):
                nav.phase = "land"
        elif it.command == MAV_CMD_NAV_RETURN_TO_LAUNCH:
            nav = self._rtl_nav(it.seq) if self.is_copter else _Nav(
                seq=it.seq, command=it.command, tn=self.home_n, te=self.home_e)
        else:
            nav.phase = "done"  # NAV commands we don't model complete at once
        if self.is_copter and nav.command == MAV_CMD_NAV_LAND and nav.phase == "go":
            nav.talt = self.alt  # fly to the landing point at the current altitude, then descend
        self.nav = nav

    def _run_do(self, it: MissionItem) -> None:
        if it.command == MAV_CMD_DO_CHANGE_SPEED:
            self.change_speed(int(it.param1), it.param2)
            # the vehicle's verify_command completes DO_CHANGE_SPEED at once and, like a NAV
            # item, it is announced with MISSION_ITEM_REACHED (seen on ArduCopter/Rover 4.7)
            self.outbox.append(("reached", it.seq))
        elif it.command == MAV_CMD_DO_GRIPPER:
            self._mission_gripper(int(it.param2))
        elif it.command == MAV_CMD_DO_SET_SERVO:
            self.set_servo(int(it.param1), int(it.param2))
        elif it.command == 207:  # DO_FENCE_ENABLE (AP_Mission::start_command_fence)
            self.fence_enable(int(it.param1))
        elif it.command == 179:  # DO_SET_HOME
            self.set_home(it.param1 >= 0.5, it.lat, it.lon)

    def _run_auto(self, dt: float) -> None:
        nav = self.nav
        if not self.mission_running or nav is None:
            return
        if self._nav_step(nav, dt):
            if nav.command in (MAV_CMD_NAV_WAYPOINT, MAV_CMD_NAV_LOITER_TIME):
                # ModeAuto::verify_nav_wp / Rover ModeAuto say so as well as MISSION_ITEM_REACHED
                self.text(SEV_INFO, f"Reached command #{nav.seq}" if self.is_copter
                          else f"Reached waypoint #{nav.seq} dist 0m")
            self.outbox.append(("reached", nav.seq))
            self.nav = None
            self._advance_from(nav.seq + 1)

    def _nav_step(self, nav: _Nav, dt: float) -> bool:
        """Execute one mission NAV item for dt; True when the item completes."""
        if nav.phase == "done":
            return True
        cmd = nav.command
        if cmd == MAV_CMD_NAV_TAKEOFF:
            if not self.is_copter:
                return True
            return self._move_v(nav.talt, dt)
        if cmd == MAV_CMD_NAV_RETURN_TO_LAUNCH:
            if self.is_copter:
                return self._run_copter_rtl(nav, dt)
            return self._goto(nav.tn, nav.te, 0.0, dt)
        if cmd == MAV_CMD_NAV_LAND:
            if nav.phase == "go":
                if self._goto(nav.tn, nav.te, nav.talt, dt):
                    nav.phase = "land"
                return False
            return self._descend_land(dt) if self.is_copter else True
        # WAYPOINT, LOITER_*, DELAY: go, then hold
        if nav.phase == "go":
            if self._goto(nav.tn, nav.te, nav.talt, dt):
                nav.phase = "hold"
                nav.timer = nav.hold_s
            return False
        nav.timer -= dt
        return nav.timer <= 0.0

    def _mission_complete(self) -> None:
        """ModeAuto::exit_mission: a copter on the ground disarms (staying in AUTO), in the air it
        loiters in AUTO; a rover says "Mission Complete" and stops in AUTO, armed
        (MIS_DONE_BEHAVE 0; 3 = switch to MANUAL)."""
        self.mission_running = False
        self.nav = None
        if self.is_copter:
            if self.landed:
                self._disarm("mission end")
            return
        self.text(SEV_NOTICE, "Mission Complete")
        if int(self.params.get("MIS_DONE_BEHAVE", 0)) == 3:
            self._set_mode_internal(R.MANUAL)

    # ------------------------------------------------------------------ failsafes
    def _fence_breaches(self) -> list[str]:
        """Breached fence types; the home circle is centred on home."""
        p = self.params
        return fence_mod.breaches(self.fence_geo, int(p["FENCE_TYPE"]), p["FENCE_ALT_MAX"],
                                  p["FENCE_RADIUS"], self.n, self.e, self.alt,
                                  home=(self.home_n, self.home_e))

    def _check_fence(self) -> None:
        if not self.params["FENCE_ENABLE"] or not self.position_ok:
            return
        now = self._fence_breaches()
        new = [b for b in now if b not in self.fence_breached]
        self.fence_breached = now
        if new:
            self.fence_breach_count += 1
            self.fence_breach_time_ms = int(self.t * 1000)
        if not new or not self.armed or (self.is_copter and self.landed):
            return
        # AC_Fence::print_fence_message: "Polygon fence breached", "Max Alt and Polygon fences breached"
        names = new[0] if len(new) == 1 else ", ".join(new[:-1]) + " and " + new[-1]
        self.text(SEV_NOTICE, f"{names} fence{'s' if len(new) > 1 else ''} breached")
        action = int(self.params["FENCE_ACTION"])
        if action == 0:
            return
        if self.is_copter:
            if self.mode in (C.RTL, C.LAND):
                return
            target = C.LAND if action == 2 else C.RTL
        else:
            if self.mode in (R.RTL, R.SMART_RTL, R.HOLD):
                return
            target = R.HOLD if action == 2 else R.RTL
        self._set_mode_internal(target)

    def _check_battery(self) -> None:
        rem = self.battery.remaining_mah
        if not self.armed:
            return
        msg = None
        if not self.crit_fs and rem <= self.params["BATT_CRT_MAH"]:
            self.crit_fs = self.low_fs = True
            msg, action = "critical", int(self.params["BATT_FS_CRT_ACT"])
        elif not self.low_fs and rem <= self.params["BATT_LOW_MAH"]:
            self.low_fs = True
            msg, action = "low", int(self.params["BATT_FS_LOW_ACT"])
        if msg is None:
            return
        self.text(SEV_CRITICAL, f"Battery 1 is {msg} {self.battery.voltage:.2f}V used "
                                f"{self.battery.used_mah:.0f} mAh")
        if action == 0:
            return
        if self.is_copter:
            if self.landed:
                self._disarm("battery failsafe")
                return
            if self.mode == C.LAND:
                return
            target = C.LAND if action == 1 else C.RTL
            if target == C.RTL and self.mode == C.RTL:
                return
        else:
            target = R.HOLD if action == 1 else R.RTL
            if self.mode == target:
                return
        self._set_mode_internal(target)
        self.text(SEV_CRITICAL, f"Battery failsafe: changed to {mode_name(self.kind, target)} Mode")

    # ------------------------------------------------------------------ faults
    def inject_gps_loss(self) -> None:
        self.gps_lost = True

    def inject_gps_restore(self) -> None:
        if not self.gps_lost:
            return
        self.gps_lost = False
        self.ekf_fs = False
        self._ekf_ok_at = self.t + 1.0
        self.text(SEV_INFO, "EKF3 IMU0 is using GPS")
