"""Wire tests: a pymavlink client talks to SimFleet over TCP, as an edge agent would."""

from __future__ import annotations

import socket
import time

import pytest

from sitl import SimFleet, VehicleKind
from sitl import mission_protocol
from sitl.geo import LocalFrame

from sitl_gcs import Gcs, mavlink

HOME = (52.37, 4.89)
FRAME = LocalFrame(*HOME)
REL = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT


def at(north: float, east: float) -> tuple[float, float]:
    return FRAME.to_latlon(north, east)


@pytest.fixture()
def fleet():
    with SimFleet(copters=1, rovers=1, home=HOME, speedup=20.0, base_port=0) as f:
        yield f


def wait_ready(g: Gcs, timeout: float = 10.0) -> None:
    g.wait("GPS_RAW_INT", timeout, cond=lambda m: m.fix_type >= 3)
    want = 1 | 2 | 4 | 16 | 32
    g.wait("EKF_STATUS_REPORT", timeout, cond=lambda m: m.flags & want == want and not m.flags & 128)


def test_ports_follow_sitl_layout():
    f = SimFleet(copters=2, rovers=1, base_port=25760)
    assert [v.port for v in f.vehicles] == [25760, 25770, 25780]
    assert [v.kind for v in f.vehicles] == [VehicleKind.COPTER, VehicleKind.COPTER, VehicleKind.ROVER]
    assert [v.instance for v in f.vehicles] == [0, 1, 2]


def test_heartbeat_and_custom_modes(fleet):
    copter, rover = (Gcs(v.port) for v in fleet.vehicles)
    try:
        assert copter.hb.type == mavlink.MAV_TYPE_QUADROTOR
        assert rover.hb.type == mavlink.MAV_TYPE_GROUND_ROVER
        assert copter.hb.autopilot == mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA
        assert copter.hb.base_mode & mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
        assert (copter.hb.custom_mode, rover.hb.custom_mode) == (0, 0)  # STABILIZE / MANUAL
        # SET_MODE is acked with COMMAND_ACK.command = SET_MODE's message id, like ArduPilot
        copter.mav.set_mode_send(1, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, 4)
        ack = copter.wait("COMMAND_ACK", cond=lambda m: m.command == 11)
        assert ack.result == mavlink.MAV_RESULT_ACCEPTED
        copter.wait("HEARTBEAT", cond=lambda m: m.custom_mode == 4)
        assert rover.set_mode(15) == mavlink.MAV_RESULT_ACCEPTED  # DO_SET_MODE
        rover.wait("HEARTBEAT", cond=lambda m: m.custom_mode == 15)
        assert fleet.vehicles[1].mode_name == "GUIDED"
        assert rover.set_mode(99) != mavlink.MAV_RESULT_ACCEPTED
    finally:
        copter.close()
        rover.close()


def test_arming_refused_until_gps_and_ekf_ready():
    with SimFleet(copters=1, home=HOME, speedup=10.0, base_port=0, warmup_s=40.0) as f:
        g = Gcs(f.vehicles[0].port)
        pos = g.wait("GLOBAL_POSITION_INT")
        assert pos.lat == 0 and pos.lon == 0  # no fix yet
        assert g.set_mode(4) == mavlink.MAV_RESULT_ACCEPTED  # any mode while disarmed
        assert g.arm() == mavlink.MAV_RESULT_FAILED
        g.wait("STATUSTEXT", cond=lambda m: "Need Position Estimate" in m.text)
        assert not f.vehicles[0].armed
        wait_ready(g)
        g.mav.command_long_send(1, 1, mavlink.MAV_CMD_REQUEST_MESSAGE, 0, 242, 0, 0, 0, 0, 0, 0)
        hp = g.wait("HOME_POSITION")
        assert hp.latitude == pytest.approx(HOME[0] * 1e7, abs=2)
        pos = g.wait("GLOBAL_POSITION_INT")
        assert pos.lat == pytest.approx(HOME[0] * 1e7, abs=2)
        assert g.arm() == mavlink.MAV_RESULT_ACCEPTED
        g.wait("HEARTBEAT", cond=lambda m: m.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
        g.close()


def test_mission_upload_handshake(fleet, monkeypatch):
    monkeypatch.setattr(mission_protocol, "UPLOAD_TIMEOUT_S", 2.5)
    g = Gcs(fleet.vehicles[0].port)
    lat, lon = at(100, 0)
    g.mav.mission_count_send(1, 1, 3, 0)
    r = g.wait(["MISSION_REQUEST", "MISSION_REQUEST_INT"])
    assert r.get_type() == "MISSION_REQUEST" and r.seq == 0  # the legacy request, like ArduPilot
    assert (r.target_system, r.target_component) == (255, 190)
    g.mav.mission_item_int_send(1, 1, 0, *(REL, 16, 0, 1, 0, 0, 0, 0, 0, 0, 0), 0)
    r = g.wait("MISSION_REQUEST")
    assert r.seq == 1
    # out of sequence: NAK, transfer continues
    g.mav.mission_item_int_send(1, 1, 2, REL, 16, 0, 1, 0, 0, 0, 0, int(lat * 1e7), int(lon * 1e7), 15, 0)
    ack = g.wait("MISSION_ACK")
    assert ack.type == mavlink.MAV_MISSION_INVALID_SEQUENCE
    # silence: the request for seq 1 is repeated after about a second
    t0 = time.time()
    r = g.wait("MISSION_REQUEST", timeout=3)
    assert r.seq == 1 and time.time() - t0 > 0.5
    # the legacy float MISSION_ITEM is accepted too
    g.mav.mission_item_send(1, 1, 1, 3, 22, 0, 1, 0, 0, 0, 0, 0, 0, 15, 0)
    r = g.wait("MISSION_REQUEST")
    assert r.seq == 2
    g.mav.mission_item_int_send(1, 1, 2, REL, 16, 0, 1, 0, 0, 0, 0, int(lat * 1e7), int(lon * 1e7), 15, 0)
    assert g.wait("MISSION_ACK").type == mavlink.MAV_MISSION_ACCEPTED
    # download: seq 0 is home
    g.mav.mission_request_list_send(1, 1, 0)
    assert g.wait("MISSION_COUNT").count == 3
    g.mav.mission_request_int_send(1, 1, 0, 0)
    home = g.wait("MISSION_ITEM_INT", cond=lambda m: m.seq == 0)
    assert home.x == pytest.approx(HOME[0] * 1e7, abs=2)
    g.mav.mission_request_int_send(1, 1, 2, 0)
    it = g.wait("MISSION_ITEM_INT", cond=lambda m: m.seq == 2)
    assert (it.command, it.x, it.z) == (16, int(lat * 1e7), 15)
    g.mav.mission_request_send(1, 1, 2, 0)  # legacy request -> legacy float item
    it = g.wait("MISSION_ITEM", cond=lambda m: m.seq == 2)
    assert it.x == pytest.approx(lat, abs=1e-6)
    g.mav.mission_ack_send(1, 1, 0, 0)
    # another system cannot upload while the first one is mid-transfer
    g.mav.mission_count_send(1, 1, 2, 0)
    g.wait("MISSION_REQUEST")
    other = Gcs(fleet.vehicles[0].port, sysid=254)
    other.mav.mission_count_send(1, 1, 2, 0)
    assert other.wait("MISSION_ACK").type == mavlink.MAV_MISSION_DENIED
    other.close()
    # a stalled upload is cancelled
    g.mav.mission_count_send(1, 1, 2, 0)
    g.wait("MISSION_REQUEST")
    ack = g.wait("MISSION_ACK", timeout=5)
    assert ack.type == mavlink.MAV_MISSION_OPERATION_CANCELLED
    # clear all
    g.mav.mission_clear_all_send(1, 1, 0)
    assert g.wait("MISSION_ACK").type == mavlink.MAV_MISSION_ACCEPTED
    g.mav.mission_request_list_send(1, 1, 0)
    assert g.wait("MISSION_COUNT").count == 1
    g.close()


def test_fence_upload_enable_and_breach(fleet):
    g = Gcs(fleet.vehicles[0].port)
    wait_ready(g)
    corners = [at(-100, -100), at(100, -100), at(100, 100), at(-100, 100)]
    items = [(5001, 5, 4, 0, 0, 0, la, lo, 0) for la, lo in corners]
    items += [(5002, 5, 3, 0, 0, 0, *at(n, e), 0) for n, e in [(40, 40), (60, 40), (50, 60)]]
    assert g.upload(items, mission_type=1) == mavlink.MAV_MISSION_ACCEPTED
    geo = fleet.vehicles[0].model.fence_geo
    assert len(geo.inclusion_polygons) == 1 and len(geo.exclusion_polygons) == 1
    # a broken polygon is refused
    assert g.upload(items[:3], mission_type=1) == mavlink.MAV_MISSION_INVALID
    g.mav.mission_request_list_send(1, 1, 1)
    assert g.wait("MISSION_COUNT", cond=lambda m: m.mission_type == 1).count == 7
    assert g.command(mavlink.MAV_CMD_DO_FENCE_ENABLE, 1) == mavlink.MAV_RESULT_ACCEPTED
    assert g.set_mode(4) == 0 and g.arm() == 0
    assert g.command(mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10) == 0
    g.wait("GLOBAL_POSITION_INT", timeout=10, cond=lambda m: m.relative_alt > 9000)
    lat, lon = at(0, 300)
    g.mav.command_int_send(1, 1, 6, mavlink.MAV_CMD_DO_REPOSITION, 0, 0, -1, 0, 0, 0,
                           int(lat * 1e7), int(lon * 1e7), 10)
    assert g.wait("COMMAND_ACK", cond=lambda m: m.command == 192).result == 0
    g.wait("HEARTBEAT", timeout=20, cond=lambda m: m.custom_mode == 6)
    assert "Polygon fence breached" in g.texts
    g.wait("FENCE_STATUS", cond=lambda m: m.breach_count == 1)  # RTL may already be back inside
    g.close()


def test_delivery_mission_in_auto():
    with SimFleet(copters=1, home=HOME, speedup=50.0, base_port=0) as f:
        v = f.vehicles[0]
        g = Gcs(v.port)
        wait_ready(g)
        a, b = at(150, 0), at(150, 150)
        items = [(16, REL, 0, 0, 0, 0, 0, 0, 0), (22, REL, 0, 0, 0, 0, 0, 0, 20),
                 (16, REL, 0, 0, 0, 0, *a, 20), (211, REL, 1, 0, 0, 0, 0, 0, 0),
                 (16, REL, 0, 0, 0, 0, *b, 20), (20, REL, 0, 0, 0, 0, 0, 0, 0)]
        assert g.upload(items) == mavlink.MAV_MISSION_ACCEPTED
        assert g.set_mode(4) == 0
        assert g.arm() == 0
        assert g.set_mode(3) == 0
        assert g.command(mavlink.MAV_CMD_MISSION_START) == 0
        reached = []
        deadline = time.time() + 30
        while time.time() < deadline:
            m = g.wait(["MISSION_ITEM_REACHED", "HEARTBEAT"], timeout=10)
            if m.get_type() == "MISSION_ITEM_REACHED":
                reached.append(m.seq)
            elif reached and reached[-1] == 5 and not m.base_mode & 128:
                break
        assert reached == [1, 2, 4, 5]  # NAV items only, no DO_GRIPPER (3)
        assert v.gripper_releases == 1
        assert not v.armed and v.landed and v.mode_name == "AUTO"
        assert "Gripper load releasing" in g.texts and "Gripper Released" in g.texts
        servo = g.wait("SERVO_OUTPUT_RAW")
        assert servo.servo9_raw == 1100  # GRIP_RELEASE on SERVO9 (FUNCTION 28)
        g.close()


def test_link_drop_vehicle_keeps_flying():
    with SimFleet(copters=1, home=HOME, speedup=20.0, base_port=0) as f:
        v = f.vehicles[0]
        g = Gcs(v.port)
        wait_ready(g)
        assert g.set_mode(4) == 0 and g.arm() == 0
        assert g.command(mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10) == 0
        g.wait("GLOBAL_POSITION_INT", timeout=10, cond=lambda m: m.relative_alt > 9000)
        lat, lon = at(2000, 0)
        g.mav.command_long_send(1, 1, mavlink.MAV_CMD_DO_REPOSITION, 0, -1, 0, 0, 0, lat, lon, 10)
        g.wait("COMMAND_ACK", cond=lambda m: m.command == 192)
        v.inject("link_drop", seconds=1.5)
        time.sleep(0.3)
        assert v.connected_clients == 0
        north0 = v.model.n
        # connecting during the drop: closed at once
        s = socket.create_connection(("127.0.0.1", v.port), timeout=2)
        s.settimeout(2)
        assert s.recv(100) == b""
        s.close()
        time.sleep(1.5)
        assert v.model.n > north0 + 50 and v.armed  # kept flying while the link was down
        g2 = Gcs(v.port)
        g2.wait("GLOBAL_POSITION_INT")
        g2.close()
        g.close()


def test_commands_params_and_faults(fleet):
    v = fleet.vehicles[0]
    g = Gcs(v.port)
    assert g.command(31337) == mavlink.MAV_RESULT_UNSUPPORTED
    assert g.command(mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, 33, 200000) == 0
    v.inject("gripper_failure")
    time.sleep(0.1)
    assert g.command(mavlink.MAV_CMD_DO_GRIPPER, 1, 0) == 0  # ArduPilot cannot tell a jammed servo
    assert v.gripper_releases == 0
    assert g.command(mavlink.MAV_CMD_DO_GRIPPER, 1, 0) == 0
    assert v.gripper_releases == 1
    g.wait("SERVO_OUTPUT_RAW", cond=lambda m: m.servo9_raw == 1100)
    assert "Gripper: failed" not in g.texts
    g.mav.param_set_send(1, 1, b"FENCE_ALT_MAX", 60.0, mavlink.MAV_PARAM_TYPE_REAL32)
    pv = g.wait("PARAM_VALUE", cond=lambda m: m.param_id == "FENCE_ALT_MAX")
    assert pv.param_value == 60.0
    g.mav.param_request_read_send(1, 1, b"WP_SPD", -1)
    assert g.wait("PARAM_VALUE", cond=lambda m: m.param_id == "WP_SPD").param_value == 10.0
    # the pre-4.7 name in cm/s still works
    g.mav.param_set_send(1, 1, b"WPNAV_SPEED", 500.0, mavlink.MAV_PARAM_TYPE_REAL32)
    assert g.wait("PARAM_VALUE", cond=lambda m: m.param_id == "WPNAV_SPEED").param_value == 500.0
    assert v.model.params["WP_SPD"] == 5.0
    # a dropped client must not hurt the vehicle; a second GCS still works
    g.close()
    g2 = Gcs(v.port)
    assert g2.command(mavlink.MAV_CMD_DO_SET_MODE, 1, 4) == 0
    g2.close()
    v.inject("battery_drain", rate_pct_per_s=5.0)
    time.sleep(0.3)
    assert v.model.battery.extra_pct_per_s == 5.0


def test_faults_over_the_wire():
    with SimFleet(copters=2, home=HOME, speedup=20.0, base_port=0) as f:
        gs = [Gcs(v.port) for v in f.vehicles]
        for g in gs:
            wait_ready(g)
            assert g.set_mode(4) == 0 and g.arm() == 0
            assert g.command(mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10) == 0
        for g in gs:
            g.wait("GLOBAL_POSITION_INT", timeout=10, cond=lambda m: m.relative_alt > 9000)
        f.vehicles[0].inject("battery_drain", rate_pct_per_s=10.0)
        gs[0].wait("STATUSTEXT", timeout=10, cond=lambda m: m.text.startswith("Battery 1 is low"))
        gs[0].wait("HEARTBEAT", cond=lambda m: m.custom_mode == 6)  # RTL
        f.vehicles[1].inject("gps_loss")
        gs[1].wait("GPS_RAW_INT", cond=lambda m: m.fix_type < 3)
        gs[1].wait("HEARTBEAT", cond=lambda m: m.custom_mode == 9)  # EKF failsafe -> LAND
        assert not gs[1].wait("EKF_STATUS_REPORT").flags & 16
        # pause / continue in GUIDED
        assert gs[1].command(mavlink.MAV_CMD_DO_PAUSE_CONTINUE, 0) == mavlink.MAV_RESULT_FAILED
        for g in gs:
            g.close()


def test_many_vehicles_rates_stay_wall_clock():
    """20 vehicles at speedup 50: heartbeats stay ~1 Hz and positions <= 5 Hz of wall time."""
    with SimFleet(copters=15, rovers=5, home=HOME, speedup=50.0, base_port=0) as f:
        assert len({v.port for v in f.vehicles}) == 20
        gs = [Gcs(v.port, wait_heartbeat=False) for v in f.vehicles]
        time.sleep(0.5)
        for g in gs:  # discard what arrived while connecting
            while g.conn.recv_match(blocking=False) is not None:
                pass
        counts = [{"HEARTBEAT": 0, "GLOBAL_POSITION_INT": 0} for _ in gs]
        types: set[int] = set()
        t_end = time.time() + 3.0
        while time.time() < t_end:
            for g, c in zip(gs, counts):
                while (m := g.conn.recv_match(blocking=False)) is not None:
                    if m.get_type() in c:
                        c[m.get_type()] += 1
                    if m.get_type() == "HEARTBEAT":
                        types.add(m.type)
            time.sleep(0.02)
        for c in counts:
            assert 2 <= c["HEARTBEAT"] <= 4
            assert 12 <= c["GLOBAL_POSITION_INT"] <= 17
        assert types == {2, 10}
        for g in gs:
            g.close()


def test_reboot_keeps_parameters_and_creates_the_gripper_from_them():
    with SimFleet(copters=1, home=HOME, speedup=20.0, base_port=0, params={"GRIP_ENABLE": 0}) as f:
        v = f.vehicles[0]
        g = Gcs(v.port)
        g.mav.param_set_send(1, 1, b"GRIP_ENABLE", 1.0, mavlink.MAV_PARAM_TYPE_REAL32)
        g.wait("PARAM_VALUE", cond=lambda m: m.param_id == "GRIP_ENABLE" and m.param_value == 1)
        assert g.command(mavlink.MAV_CMD_DO_GRIPPER, 1, 1) == 0
        assert g.wait("SERVO_OUTPUT_RAW").servo9_raw == 1500  # no backend: nothing moved
        assert g.command(mavlink.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN, 1) == 0
        deadline = time.time() + 5
        while v.boots < 2 and time.time() < deadline:
            time.sleep(0.05)
        g.close()
        assert v.boots == 2
        time.sleep(0.6)  # the port refuses connections while "booting"
        g = Gcs(v.port)
        assert g.command(mavlink.MAV_CMD_DO_GRIPPER, 1, 1) == 0
        g.wait("SERVO_OUTPUT_RAW", cond=lambda m: m.servo9_raw == 1900)
        g.close()
