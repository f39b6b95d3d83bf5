"""Pure vehicle-model tests: no sockets, sim time stepped directly."""

from __future__ import annotations

import math

import pytest

from sitl.fence import CMD_FENCE_POLYGON_VERTEX_EXCLUSION, CMD_FENCE_POLYGON_VERTEX_INCLUSION
from sitl.mission import MissionItem
from sitl.modes import CopterMode as C
from sitl.modes import RoverMode as R
from sitl.modes import VehicleKind
from sitl.vehicle import ACCEPTED, DENIED, FAILED, VehicleModel

HOME = (52.37, 4.89)


def ready(kind: VehicleKind = VehicleKind.COPTER, **kw) -> VehicleModel:
    v = VehicleModel(kind, *HOME, warmup_s=2.0, **kw)
    run(v, 3.0)
    assert v.ekf_ready and v.home_set
    v.outbox.clear()
    return v


def run(v: VehicleModel, seconds: float, dt: float = 0.1, until=None) -> float:
    t = 0.0
    while t < seconds:
        v.step(dt)
        t += dt
        if until is not None and until(v):
            break
    return t


def texts(v: VehicleModel) -> list[str]:
    return [e[2] for e in v.outbox if e[0] == "text"]


def reached(v: VehicleModel) -> list[int]:
    return [e[1] for e in v.outbox if e[0] == "reached"]


def wp(v: VehicleModel, seq: int, north: float, east: float, alt: float, cmd: int = 16,
       **params) -> MissionItem:
    lat, lon = v.frame.to_latlon(north, east)
    return MissionItem(seq=seq, command=cmd, x=int(lat * 1e7), y=int(lon * 1e7), z=alt, **params)


def airborne(v: VehicleModel, alt: float = 20.0) -> None:
    assert v.set_mode(C.GUIDED) == ACCEPTED
    assert v.arm() == ACCEPTED
    assert v.takeoff(alt) == ACCEPTED
    run(v, 30, until=lambda m: m.alt >= alt - 0.01)


def test_copter_climbs_and_cruises_at_wpnav_speed():
    v = ready()
    airborne(v, 20.0)
    assert v.alt == pytest.approx(20.0) and not v.landed
    lat, lon = v.frame.to_latlon(300.0, 400.0)  # 500 m away
    assert v.goto(lat, lon, 20.0) == ACCEPTED
    t = run(v, 200, until=lambda m: m.nav is None)
    assert t == pytest.approx(50.0, abs=1.0)  # WPNAV_SPEED 10 m/s
    assert v.lat_lon[0] == pytest.approx(lat, abs=1e-7)


def test_battery_drains_while_hovering_and_idle():
    v = ready()
    idle0 = v.battery.pct
    run(v, 60)
    assert v.battery.pct < idle0  # even disarmed electronics draw a little
    airborne(v, 10.0)
    p0 = v.battery.pct
    run(v, 120)  # hover two minutes
    assert v.alt == pytest.approx(10.0)
    assert p0 - v.battery.pct > 3.0


def test_takeoff_refused_unless_armed_in_guided():
    v = ready()
    assert v.takeoff(10) == FAILED
    v.set_mode(C.GUIDED)
    assert v.takeoff(10) == FAILED  # not armed


def test_prearm_needs_position_estimate():
    v = VehicleModel(VehicleKind.COPTER, *HOME, warmup_s=10.0)
    v.step(0.1)
    v.set_mode(C.GUIDED)  # allowed while disarmed, as in ArduCopter
    assert v.arm() == FAILED
    assert "Arm: Need Position Estimate" in texts(v)
    run(v, 5.5)  # 3D fix, EKF not yet using GPS: ArduCopter arms but refuses the takeoff
    assert v.gps_fix_type == 3 and not v.ekf_ready
    assert v.arm() == ACCEPTED
    assert v.takeoff(10) == FAILED
    run(v, 10.1)
    assert not v.armed  # DISARM_DELAY
    assert v.ekf_ready
    assert v.arm() == ACCEPTED and v.takeoff(10) == ACCEPTED


def test_copter_not_armable_in_auto():
    v = ready()
    v.set_mode(C.AUTO)
    assert v.arm() == FAILED
    assert "Arm: Mode not armable" in texts(v)


def copter_delivery(v: VehicleModel) -> list[MissionItem]:
    return [
        MissionItem(0, 16),
        MissionItem(1, 22, z=20),
        MissionItem(2, 178, param2=5.0),  # DO_CHANGE_SPEED 5 m/s
        wp(v, 3, 200, 0, 20),
        MissionItem(4, 211, param1=1, param2=0),  # DO_GRIPPER release, runs when item 3 completes
        wp(v, 5, 200, 200, 20),
        MissionItem(6, 20),
    ]


def test_copter_mission_ending_in_rtl_lands_disarms_and_stays_auto():
    v = ready()
    v.set_mission(copter_delivery(v))
    v.set_mode(C.GUIDED)
    assert v.arm() == ACCEPTED
    assert v.set_mode(C.AUTO) == ACCEPTED
    assert v.mission_start(1, 0) == DENIED  # ArduCopter: first/last item not supported
    assert v.mission_start() == ACCEPTED
    release_at = []
    t = 0.0
    while v.armed and t < 600:
        before = v.gripper_releases
        v.step(0.2)
        t += 0.2
        if v.gripper_releases != before:
            release_at.append(v.frame.to_ne(*v.lat_lon))
    assert not v.armed and v.landed and v.mode == C.AUTO
    assert reached(v) == [1, 2, 3, 5, 6]  # NAV items and DO_CHANGE_SPEED (ArduPilot 4.7), no DO_GRIPPER
    assert v.gripper_releases == 1
    n, e = release_at[0]
    assert math.hypot(n - 200, e) < 0.5  # released on reaching item 3, not on leaving for it
    assert math.hypot(v.n, v.e) < 0.5
    assert "Reached command #3" in texts(v)


def test_copter_auto_refused_on_ground_without_takeoff_item():
    v = ready()
    v.set_mission([MissionItem(0, 16), wp(v, 1, 50, 0, 10)])
    v.set_mode(C.GUIDED)
    v.arm()
    assert v.set_mode(C.AUTO) == FAILED
    assert "Auto: Missing Takeoff Cmd" in texts(v)


def test_rover_mission_ending_in_rtl_stays_armed():
    v = ready(VehicleKind.ROVER)
    v.set_mission([MissionItem(0, 16), wp(v, 1, 60, 0, 0), MissionItem(2, 211, param2=0),
                   MissionItem(3, 20)])
    v.set_mode(R.GUIDED)
    assert v.arm() == ACCEPTED
    assert v.mission_start() == ACCEPTED
    assert v.mode == R.AUTO
    run(v, 200, until=lambda m: not m.mission_running)
    assert v.armed and v.mode == R.AUTO  # Rover ModeAuto::exit_mission -> start_stop()
    assert "Mission Complete" in texts(v)
    assert reached(v) == [1, 3]
    assert math.hypot(v.n, v.e) < 0.5
    v.step(0.1)
    assert v.groundspeed == 0


def fence_items(v: VehicleModel, half: float = 100.0) -> list[MissionItem]:
    corners = [(-half, -half), (half, -half), (half, half), (-half, half)]
    items = []
    for i, (n, e) in enumerate(corners):
        lat, lon = v.frame.to_latlon(n, e)
        items.append(MissionItem(i, CMD_FENCE_POLYGON_VERTEX_INCLUSION, param1=4,
                                 x=int(lat * 1e7), y=int(lon * 1e7), mission_type=1))
    for k, (n, e) in enumerate([(40, 40), (60, 40), (50, 60)]):
        lat, lon = v.frame.to_latlon(n, e)
        items.append(MissionItem(4 + k, CMD_FENCE_POLYGON_VERTEX_EXCLUSION, param1=3,
                                 x=int(lat * 1e7), y=int(lon * 1e7), mission_type=1))
    return items


def test_polygon_fence_breach_triggers_rtl():
    v = ready()
    v.set_fence(fence_items(v))
    assert len(v.fence_geo.inclusion_polygons) == 1 and len(v.fence_geo.exclusion_polygons) == 1
    v.set_param("FENCE_ENABLE", 1)
    airborne(v, 20)
    lat, lon = v.frame.to_latlon(0, 300)
    v.goto(lat, lon, 20)
    run(v, 60, until=lambda m: m.mode == C.RTL)
    assert v.mode == C.RTL
    assert "Polygon fence breached" in texts(v)
    assert 99 < v.e < 102
    run(v, 200, until=lambda m: not m.armed)
    assert not v.armed and math.hypot(v.n, v.e) < 0.5


def test_fence_ceiling_and_prearm():
    v = ready()
    v.set_param("FENCE_ENABLE", 1)
    v.set_param("FENCE_ALT_MAX", 30)
    airborne(v, 20)
    v.goto(*v.lat_lon, 50)
    run(v, 30, until=lambda m: m.mode == C.RTL)
    assert v.mode == C.RTL and "Max Alt fence breached" in texts(v)
    run(v, 3)  # (then it loiters RTL_LOIT_TIME over home and lands)
    assert v.alt == pytest.approx(28.0)  # RTL comes back below the ceiling (minus 2 m margin)
    # an exclusion zone around home: arming refused
    w = ready()
    lat, lon = HOME
    w.set_fence([MissionItem(0, 5004, param1=50, x=int(lat * 1e7), y=int(lon * 1e7))])
    w.set_param("FENCE_ENABLE", 1)
    w.set_mode(C.GUIDED)
    w.step(0.1)
    assert w.arm() == FAILED
    assert any("fence" in t for t in texts(w))


def test_low_battery_failsafe_rtl():
    v = ready()
    airborne(v, 20)
    lat, lon = v.frame.to_latlon(300, 0)
    v.goto(lat, lon, 20)
    v.battery.extra_pct_per_s = 5.0
    run(v, 30, until=lambda m: m.mode == C.RTL)
    assert v.mode == C.RTL
    assert any(t.startswith("Battery 1 is low") for t in texts(v))
    assert v.arm() == ACCEPTED  # already armed


def test_gps_loss_copter_lands_rover_holds():
    v = ready()
    airborne(v, 20)
    v.inject_gps_loss()
    v.step(0.1)
    assert v.mode == C.LAND and v.gps_fix_type < 3 and not v.ekf_ready
    run(v, 60, until=lambda m: not m.armed)
    assert v.landed and not v.armed
    v.inject_gps_restore()
    run(v, 2)
    assert v.ekf_ready
    r = ready(VehicleKind.ROVER)
    r.set_mode(R.GUIDED)
    r.arm()
    r.goto(*r.frame.to_latlon(100, 0), None)
    run(r, 5)
    r.inject_gps_loss()
    r.step(0.1)
    assert r.mode == R.HOLD and r.armed


def test_copter_auto_disarms_idle_on_ground():
    v = ready()
    v.set_mode(C.GUIDED)
    v.arm()
    run(v, 9)
    assert v.armed
    run(v, 2)
    assert not v.armed


def test_jammed_gripper_moves_nothing_and_says_nothing_and_nav_delay():
    """The gripper_failure fault: ArduPilot has no way to notice, it sends no failure text."""
    v = ready()
    v.grip.jam_next_release = True
    assert v.gripper(0) == ACCEPTED and v.gripper_releases == 0
    assert texts(v) == [] and v.grip.pwm == 1500
    assert v.gripper(0) == ACCEPTED and v.gripper_releases == 1
    v.set_mission([MissionItem(0, 16), MissionItem(1, 22, z=5), MissionItem(2, 93, param1=10),
                   MissionItem(3, 21)])
    v.set_mode(C.GUIDED)
    v.arm()
    v.mission_start()
    t = run(v, 100, until=lambda m: not m.armed)
    assert reached(v) == [1, 2, 3]
    assert t > 10 + 2 + 5  # climb, delay, land


def test_without_a_gripper_nothing_is_released():
    """ArduPilot with GRIP_ENABLE=0: the command fails, a mission item is skipped silently."""
    v = ready()
    v.params["GRIP_ENABLE"] = 0
    assert v.gripper(0) == FAILED and v.gripper_releases == 0
    assert not any("Gripper" in t for t in texts(v))


def gripper_pwm(v: VehicleModel) -> int:
    return v.servo_outputs()[8]  # SERVO9_FUNCTION 28


def test_servo_gripper_texts_and_pwm_as_ap_gripper_servo():
    v = ready()
    assert gripper_pwm(v) == 1500  # GRIP_NEUTRAL at boot
    v.gripper(1)
    assert gripper_pwm(v) == 1900 and texts(v) == ["Gripper load grabbing"]
    run(v, 1.0)
    v.outbox.clear()
    v._mission_gripper(0)  # a DO_GRIPPER mission item
    assert gripper_pwm(v) == 1100 and texts(v) == ["Gripper load releasing", "Gripper Released"]
    run(v, 1.0)
    v.outbox.clear()
    v._mission_gripper(0)  # the second stop: already open
    assert gripper_pwm(v) == 1100 and texts(v) == ["Gripper load released", "Gripper Released"]
    assert v.gripper_releases == 1


def test_gripper_params_set_at_run_time_need_a_reboot():
    """AP_Gripper creates its backend at boot only: GRIP_ENABLE set later is accepted and shown,
    DO_GRIPPER is ACCEPTED and the mission says "Gripper Released", but the servo never moves."""
    v = ready(params={"GRIP_ENABLE": 0})
    assert v.set_param("GRIP_ENABLE", 1) and v.get_param("GRIP_ENABLE") == 1
    assert v.gripper(1) == ACCEPTED and gripper_pwm(v) == 1500
    v._mission_gripper(0)
    assert texts(v) == ["Gripper Released"] and gripper_pwm(v) == 1500 and v.gripper_releases == 0
    v.set_mission([MissionItem(0, 16), MissionItem(1, 22, z=10)])
    v.reboot()
    assert v.boots == 2 and v.t == 0.0 and not v.ekf_ready and len(v.items) == 2  # mission kept
    run(v, 3.0)
    v.gripper(1)
    v.gripper(0)
    assert gripper_pwm(v) == 1100 and v.gripper_releases == 1


def test_pilotless_loiter_descends_lands_and_disarms_brake_holds():
    """ArduCopter LOITER follows the throttle stick: with no pilot it is at minimum."""
    v = ready()
    airborne(v, 30.0)
    assert v.set_mode(C.BRAKE) == ACCEPTED
    run(v, 60)
    assert v.alt == pytest.approx(30.0) and v.armed
    assert v.set_mode(C.LOITER) == ACCEPTED
    t = run(v, 60, until=lambda m: m.landed)
    assert 30 / 2.5 - 1 < t < 30 / 2.5 + 1  # PILOT_SPEED_UP 250 cm/s
    assert v.armed
    run(v, 11)
    assert not v.armed and v.mode == C.LOITER  # DISARM_DELAY 10 s


def test_ekf_failsafe_heartbeat_before_its_text():
    v = ready()
    airborne(v, 20.0)
    v.outbox.clear()
    v.inject_gps_loss()
    run(v, 1.0, until=lambda m: m.mode == C.LAND)
    kinds = [e[0] if e[0] != "text" else e[2] for e in v.outbox]
    assert kinds[:2] == ["mode", "EKF Failsafe: changed to LAND Mode"]


def test_rover_waits_at_loiter_unlim_until_mission_moves_on():
    v = ready(VehicleKind.ROVER)
    v.set_mission([MissionItem(0, 16), wp(v, 1, 30, 0, 0, cmd=17), wp(v, 2, 30, 30, 0)])
    v.set_mode(R.GUIDED)
    v.arm()
    v.mission_start()
    run(v, 120)
    assert v.mission_current == 1 and math.hypot(v.n - 30, v.e) < 0.5  # waiting for the handover
    assert v.set_mission_current(2)
    run(v, 60, until=lambda m: not m.mission_running)
    assert reached(v) == [2] and v.mode == R.AUTO and v.armed


@pytest.mark.parametrize("restart, expect", [(0, 3), (1, 1)])
def test_auto_again_resumes_the_current_item_unless_mis_restart(restart, expect):
    v = ready(params={"MIS_RESTART": restart})
    v.set_mission(copter_delivery(v))
    v.set_mode(C.GUIDED)
    v.arm()
    v.mission_start()
    run(v, 60, until=lambda m: m.mission_current == 3 and m.n > 50)
    assert v.set_mode(C.BRAKE) == ACCEPTED
    run(v, 5)
    assert v.set_mode(C.AUTO) == ACCEPTED and v.mission_current == expect
