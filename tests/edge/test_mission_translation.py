from fleet_protocol import VehicleType
from edge_agent import mission_translation as mt
from edge_factories import make_mission, offset


def test_copter_items_and_marks():
    m = make_mission(kind="drone")
    t = mt.translate_mission(m)
    assert t.autopilot == "copter"
    cmds = [i.command for i in t.items]
    assert [i.seq for i in t.items] == list(range(len(t.items)))
    assert cmds[0] == mt.NAV_WAYPOINT and t.items[0].frame == mt.FRAME_GLOBAL  # home placeholder
    assert cmds[1] == mt.NAV_TAKEOFF and t.items[1].z == 30.0
    assert cmds[2] == mt.DO_CHANGE_SPEED and t.items[2].param2 == 10.0
    assert cmds.count(mt.DO_GRIPPER) == 2
    assert cmds[-1] == mt.NAV_RETURN_TO_LAUNCH and t.final_seq == len(cmds) - 1
    for mark, stop in zip(t.stops, m.stops):
        arr, drop, rel, climb = (t.items[s] for s in (mark.arrival_seq, mark.drop_seq, mark.release_seq, mark.after_seq))
        assert arr.command == mt.NAV_WAYPOINT and arr.z == 30.0
        assert (arr.x, arr.y) == (round(stop.drop_off.lat * 1e7), round(stop.drop_off.lon * 1e7))
        assert drop.command == mt.NAV_WAYPOINT and drop.z == 5.0 and (drop.x, drop.y) == (arr.x, arr.y)
        assert rel.command == mt.DO_GRIPPER and rel.param1 == 1 and rel.param2 == 0
        assert climb.z == 30.0 and mark.drop_seq == mark.arrival_seq + 1 == mark.release_seq - 1
        assert not mt.is_nav_command(rel.command) and mt.is_nav_command(arr.command)


def test_copter_paths_and_return_path():
    d = make_mission().model_dump(mode="json")
    d["stops"][0]["path"] = [offset(52.37, 4.89, 50, 10)]
    d["return_path"] = [offset(52.37, 4.89, 60, 60), offset(52.37, 4.89, 30, 30)]
    m = type(make_mission()).model_validate(d)
    t = mt.translate_mission(m)
    assert t.stops[0].arrival_seq == 4  # home, takeoff, speed, path wp, arrival
    assert t.return_start_seq == t.final_seq - 2
    assert [i.command for i in t.items[t.return_start_seq:]] == [mt.NAV_WAYPOINT, mt.NAV_WAYPOINT, mt.NAV_RETURN_TO_LAUNCH]


def test_rover_items_end_at_hub():
    m = make_mission(kind="robot")
    t = mt.translate_mission(m)
    assert t.autopilot == "rover"
    cmds = [i.command for i in t.items]
    assert mt.NAV_TAKEOFF not in cmds and mt.DO_GRIPPER not in cmds
    assert cmds[1] == mt.DO_CHANGE_SPEED
    last = t.items[-1]
    assert last.command == mt.NAV_WAYPOINT and (last.lat, last.lon) == (52.37, 4.89)
    assert [s.arrival_seq for s in t.stops] == [2, 3] and all(s.release_seq is None for s in t.stops)
    assert t.stop_for_arrival(3).parcel_id == "p2"


def test_fence_items():
    from edge_factories import square
    m = make_mission(exclusions=[square(52.37, 4.89, 20, 500, 500), square(52.37, 4.89, 10, -500, 0)])
    f = mt.translate_fence(m.geofence)
    assert len(f.items) == 12
    assert [i.command for i in f.items[:4]] == [mt.NAV_FENCE_POLYGON_VERTEX_INCLUSION] * 4
    assert [i.command for i in f.items[4:]] == [mt.NAV_FENCE_POLYGON_VERTEX_EXCLUSION] * 8
    assert all(i.param1 == 4 and i.mission_type == mt.MISSION_TYPE_FENCE for i in f.items)
    assert [i.seq for i in f.items] == list(range(12))
    assert isinstance(f.items[0].x, int) and abs(f.items[0].lat - m.geofence.inclusion.vertices[0].lat) < 1e-7


def test_fence_params_switch_off_ardupilots_home_circle():
    """ArduPilot's FENCE_TYPE defaults (copter 7, rover 6) include a 300 m circle around home;
    a delivery further out would breach it, so the agent sets the type itself."""
    m = make_mission()
    drone = dict(mt.translate_fence(m.geofence, VehicleType.drone).params)
    robot = dict(mt.translate_fence(m.geofence, VehicleType.robot).params)
    assert drone == {"FENCE_TYPE": mt.FENCE_TYPE_ALT_MAX | mt.FENCE_TYPE_POLYGON, "FENCE_ALT_MAX": 120}
    assert robot == {"FENCE_TYPE": mt.FENCE_TYPE_POLYGON}
    assert not (int(drone["FENCE_TYPE"]) & mt.FENCE_TYPE_CIRCLE)
