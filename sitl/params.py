"""The handful of ArduPilot parameters the simulator honours, with ArduPilot's names and units.

Only parameters that change simulated behaviour are listed; PARAM_SET of any other name is ignored
silently (ArduPilot does the same for unknown names). Defaults follow ArduPilot except where noted.
"""

from __future__ import annotations

from .modes import VehicleKind

_COMMON: dict[str, float] = {
    "SYSID_THISMAV": 1,
    "FENCE_ENABLE": 0,
    "FENCE_ACTION": 1,  # 1 = RTL (or land / hold)
    "FENCE_ALT_MAX": 100.0,  # m
    "FENCE_RADIUS": 300.0,  # m, home-centred circle (FENCE_TYPE bit 1)
    "BATT_CAPACITY": 10000.0,  # mAh
    "BATT_LOW_MAH": 2500.0,  # remaining mAh that triggers the low failsafe (ArduPilot default 0 = off)
    "BATT_CRT_MAH": 1000.0,  # remaining mAh that triggers the critical failsafe
    "BATT_FS_LOW_ACT": 2,  # copter: 2 = RTL; rover: 2 = RTL
    "BATT_FS_CRT_ACT": 1,  # copter: 1 = LAND; rover: 1 = HOLD
    "BATT_ARM_MAH": 0.0,
    "DISARM_DELAY": 10.0,  # s on the ground armed and idle before auto-disarm (copter)
    "MIS_RESTART": 0,  # 0 = AUTO resumes the mission at its current item, 1 = restarts it (AP_Mission)
}

# ArduCopter 4.7 (master) names, SI units: WPNAV_SPEED (cm/s) became WP_SPD (m/s) and so on.
_COPTER: dict[str, float] = {
    # ArduPilot's defaults (AC_Fence.cpp): copter 7 = alt max + 300 m home circle + polygon, rover
    # 6 = circle + polygon. Kept, so an agent that relies on them flies into the home circle here
    # as it would on a real autopilot; the edge agent sets FENCE_TYPE itself.
    "FENCE_TYPE": 7,
    "WP_SPD": 10.0,  # m/s
    "WP_SPD_UP": 2.5,  # m/s
    "WP_SPD_DN": 1.5,  # m/s
    "WP_RADIUS_M": 2.0,  # m
    "LAND_SPD_MS": 0.5,  # m/s below LAND_ALT_LOW_M
    "LAND_ALT_LOW_M": 10.0,  # m
    "RTL_ALT_M": 15.0,  # m
    "RTL_LOIT_TIME": 5000.0,  # ms
    "FS_EKF_ACTION": 1,  # 1 = LAND
    # ArduPilot's default is 0 (no gripper; DO_GRIPPER items are then skipped silently). Our
    # simulated copters are delivery drones with a servo gripper, as sitl/copter.parm configures
    # real SITL; set 0 to see how an agent copes with an autopilot that has none.
    # AP_Gripper creates its backend only at boot (AP_Gripper::init): the gripper exists if
    # GRIP_ENABLE was 1 and GRIP_TYPE 1 (servo) when the vehicle booted; changing them later
    # takes a reboot (MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN). PWM defaults as AP_Gripper.cpp.
    "GRIP_ENABLE": 1,
    "GRIP_TYPE": 1,
    "GRIP_GRAB": 1900.0,
    "GRIP_RELEASE": 1100.0,
    "GRIP_NEUTRAL": 1500.0,
    # LOITER / ALT_HOLD follow the throttle stick: with no pilot it sits at minimum and the copter
    # descends at PILOT_SPEED_DN (cm/s; 0 = PILOT_SPEED_UP), lands and auto-disarms.
    "PILOT_SPEED_UP": 250.0,
    "PILOT_SPEED_DN": 0.0,
    # servo outputs: motors 1-4 (33-36), the gripper on SERVO9 (28) as sitl/copter.parm sets it
    "SERVO1_FUNCTION": 33, "SERVO2_FUNCTION": 34, "SERVO3_FUNCTION": 35, "SERVO4_FUNCTION": 36,
    "SERVO9_FUNCTION": 28,
}

#: pre-4.7 copter names still accepted by PARAM_SET / PARAM_REQUEST_READ: old -> (new, old-to-new scale)
LEGACY_COPTER: dict[str, tuple[str, float]] = {
    "WPNAV_SPEED": ("WP_SPD", 0.01),
    "WPNAV_SPEED_UP": ("WP_SPD_UP", 0.01),
    "WPNAV_SPEED_DN": ("WP_SPD_DN", 0.01),
    "WPNAV_RADIUS": ("WP_RADIUS_M", 0.01),
    "LAND_SPEED": ("LAND_SPD_MS", 0.01),
    "LAND_ALT_LOW": ("LAND_ALT_LOW_M", 0.01),
    "RTL_ALT": ("RTL_ALT_M", 0.01),
}

_ROVER: dict[str, float] = {
    "FENCE_TYPE": 6,
    "WP_SPEED": 2.0,  # m/s
    "CRUISE_SPEED": 2.0,  # m/s
    "WP_RADIUS": 2.0,  # m
    "FS_EKF_ACTION": 1,  # 1 = HOLD
    "MIS_DONE_BEHAVE": 0,  # 0 = stop in AUTO (start_stop), 3 = MANUAL
    "SERVO1_FUNCTION": 26, "SERVO3_FUNCTION": 70,  # ground steering, throttle
}


#: SERVOn_FUNCTION value of the gripper (SRV_Channel::k_gripper)
SERVO_FUNCTION_GRIPPER = 28
SERVO_CHANNELS = 16


def default_params(kind: VehicleKind) -> dict[str, float]:
    """A fresh parameter table for one vehicle."""
    table = dict(_COMMON)
    table.update({f"SERVO{n}_FUNCTION": 0 for n in range(1, SERVO_CHANNELS + 1)})
    table.update(_COPTER if kind is VehicleKind.COPTER else _ROVER)
    return table
