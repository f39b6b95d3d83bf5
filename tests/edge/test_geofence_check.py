from datetime import datetime, timedelta, timezone

from edge_agent.geofence_check import check_mission, estimate_energy_wh, route_length_m
from edge_factories import make_mission, square

LAT, LON = 52.37, 4.89


def codes(vs):
    return [v.code for v in vs]


def test_inside_ok():
    assert check_mission(make_mission()) == []
    assert check_mission(make_mission(kind="robot"), max_payload_kg=5, battery_wh=500, wh_per_km=20) == []


def test_leg_crossing_no_fly_zone_is_rejected_naming_the_zone():
    # zone centred 60 m north of the hub, on the straight line hub -> first drop-off (120 m north)
    vs = check_mission(make_mission(exclusions=[square(LAT, LON, 300, 2000, 2000), square(LAT, LON, 15, 60, 0)]))
    assert vs and set(codes(vs)) == {"geofence"}
    assert any("exclusion zone #1" in v.message and "crosses" in v.message for v in vs)


def test_waypoint_inside_zone_and_outside_inclusion():
    vs = check_mission(make_mission(stops_m=((120, 0), (5000, 0)), exclusions=[square(LAT, LON, 10, 120, 0)]))
    msgs = " | ".join(v.message for v in vs)
    assert "inside exclusion zone #0" in msgs and "outside the inclusion area" in msgs


def test_touching_zone_boundary_from_outside_is_ok():
    # the leg runs due north along x=0; the zone's west edge is exactly x=0
    vs = check_mission(make_mission(stops_m=((120, 0),), exclusions=[square(LAT, LON, 20, 60, 20)]))
    assert [v for v in vs if "zone" in v.message] == []


def test_self_intersecting_polygon():
    bow = {"vertices": [{"lat": 52.36, "lon": 4.88}, {"lat": 52.38, "lon": 4.90},
                        {"lat": 52.36, "lon": 4.90}, {"lat": 52.38, "lon": 4.88}]}
    d = make_mission().model_dump(mode="json")
    d["geofence"]["exclusions"] = [bow]
    vs = check_mission(type(make_mission()).model_validate(d))
    assert codes(vs) == ["geofence"] and "invalid" in vs[0].message
    d["geofence"]["inclusion"] = bow
    d["geofence"]["exclusions"] = []
    vs = check_mission(type(make_mission()).model_validate(d))
    assert "inclusion polygon is invalid" in vs[0].message


def test_payload():
    vs = check_mission(make_mission(), max_payload_kg=0.8)
    assert codes(vs) == ["payload"] and "1.00 kg" in vs[0].message
    assert check_mission(make_mission(), max_payload_kg=1.0) == []


def test_one_gripper_carries_one_parcel():
    """An ArduPilot gripper stays open after the first release: a second parcel would fall out."""
    vs = check_mission(make_mission(), release_channels=1)
    assert codes(vs) == ["payload"] and "2 release stops" in vs[0].message and "1 release channel" in vs[0].message
    assert check_mission(make_mission(), release_channels=2) == []
    assert check_mission(make_mission(stops_m=((120, 0),)), release_channels=1) == []
    assert check_mission(make_mission(kind="robot"), release_channels=1) == []  # handovers


def test_energy():
    m = make_mission()
    length = route_length_m(m)
    assert 370 < length < 382  # 120 + 100 + ~156
    need = estimate_energy_wh(m, 20.0)
    assert need > length / 1000 * 20  # climbs and hover on top for drones
    assert check_mission(m, battery_wh=need / 0.8 * 1.01, wh_per_km=20) == []
    vs = check_mission(m, battery_wh=need / 0.8 * 1.01, wh_per_km=20, battery_pct=50)
    assert codes(vs) == ["energy"]
    robot = make_mission(kind="robot")
    assert estimate_energy_wh(robot, 20.0) == route_length_m(robot) / 1000 * 20


def test_expired():
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    assert codes(check_mission(make_mission(expires_at=past))) == ["expired"]
    now = datetime.now(timezone.utc) - timedelta(minutes=2)
    assert check_mission(make_mission(expires_at=past), now=now) == []
