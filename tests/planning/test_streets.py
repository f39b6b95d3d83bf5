import math

import numpy as np
import pytest

from ground_control.planning.streets import StreetRouter, build_street_graph


def test_grid_streets_route_along_the_network():
    # two crossing streets (noded at the crossing) and one that stops 0.5 m short of another
    lines = [np.array([[0.0, 0.0], [200.0, 0.0]]), np.array([[100.0, -100.0], [100.0, 100.0]]),
             np.array([[200.5, 0.0], [200.5, 100.0]])]
    net = build_street_graph(lines, snap_m=1.0)
    pts = np.array([[0.0, 5.0], [100.0, 95.0], [200.5, 90.0], [50.0, 3.0]])
    router = StreetRouter(pts, net)
    d = router.distances()
    # 5 m to the street, 100 m east, 95 m north (the foot of the perpendicular is the endpoint)
    assert d[0, 1] == pytest.approx(5 + 100 + 95)
    assert d[0, 2] == pytest.approx(5 + 200.25 + 90, abs=0.5)
    assert d[0, 3] == pytest.approx(5 + 50 + 3)          # same segment: along it
    assert np.allclose(d, d.T)
    path = router.path(0, 1)
    assert path[0].tolist() == [0.0, 5.0] and path[-1].tolist() == [100.0, 95.0]
    assert np.hypot(*np.diff(path, axis=0).T).sum() == pytest.approx(d[0, 1])


# ---------------------------------------------------------------- exclusion zones bind robots too
import shapely  # noqa: E402

from ground_control.planning.costs import build_costs  # noqa: E402
from ground_control.planning.greedy import GreedyPlanner  # noqa: E402
from ground_control.planning.model import (  # noqa: E402
    PlanRequest, StreetNetwork, UnplannedReason, VehicleKind,
)

from planning_helpers import PROJ, at, drone, fence, hub, parcel, square  # noqa: E402

ROBOT = VehicleKind.robot


def _robot_request(parcels, streets=None, factor=1.3, margin=10.0):
    return PlanRequest(hubs=(hub(),), vehicles=(drone("r", kind=ROBOT),), parcels=tuple(parcels),
                       geofence=fence(exclusions=[square(500, 0, 100)], margin=margin),
                       streets=StreetNetwork(tuple(tuple(at(x, y) for x, y in line)
                                                   for line in streets)) if streets else None,
                       robot_detour_factor=factor)


def _crosses_zone(path_points, zone=shapely.box(400, -100, 600, 100)):
    xy = PROJ.to_xy(path_points)
    return any(shapely.LineString([a, b]).relate_pattern(zone, "T********")
               for a, b in zip(xy, xy[1:]))


def test_robot_without_streets_goes_round_a_zone_at_detour_scaled_visibility_length():
    req = _robot_request([parcel("p", 1000, 0)])
    costs = build_costs(req)
    d = costs.dist(ROBOT)
    # buffered square (half-side 110) between hub and drop-off: round two of its corners
    geometric = 2 * math.hypot(390, 110) + 220
    assert d[0, 1] == pytest.approx(1.3 * geometric, rel=1e-6)
    leg = costs.leg(ROBOT, 0, 1)
    assert len(leg.path) == 4 and not _crosses_zone(leg.path)
    length = np.hypot(*np.diff(PROJ.to_xy(leg.path), axis=0).T).sum()
    assert length == pytest.approx(geometric, rel=1e-6)
    plan = GreedyPlanner().plan(req)
    assert not plan.unplanned and not _crosses_zone(plan.routes[0].legs[0].path)


def test_street_through_a_zone_is_cut():
    straight = [(0, 0), (1000, 0)]                      # one segment, through the zone
    around = [(0, 0), (0, 300), (1000, 300), (1000, 0)]
    req = _robot_request([parcel("p", 1000, 0)], streets=[straight, around])
    costs = build_costs(req)
    assert costs.dist(ROBOT)[0, 1] == pytest.approx(1600, rel=1e-6)
    assert not _crosses_zone(costs.leg(ROBOT, 0, 1).path)
    # the only street runs through the zone: nothing left to drive on
    plan = GreedyPlanner().plan(_robot_request([parcel("p", 1000, 0)], streets=[straight]))
    assert plan.unplanned == {"p": UnplannedReason.outside_area}


def test_access_walk_does_not_cut_through_a_zone():
    # the drop-off's nearest street lies across the zone: it walks from the next nearest one
    streets = [[(0, 0), (0, 300), (300, 300)], [(610, -300), (610, 300)]]
    req = _robot_request([parcel("p", 380, 0), parcel("q", 700, 0)], streets=streets)
    costs = build_costs(req)
    leg = costs.leg(ROBOT, 0, 1)
    assert not _crosses_zone(leg.path)
    # the nearest street (x = 610) is not walked to through the zone: (300, 300) is used
    assert PROJ.to_xy(leg.path[-2:-1])[0] == pytest.approx([300, 300], abs=1e-6)
    # q's only street is unconnected to the hub's: unreachable
    assert not np.isfinite(costs.dist(ROBOT)[0, 2])


def test_robot_street_route_at_full_range_near_the_equator_is_accepted():
    # near the equator the planner's ellipsoid metres north are ~0.5 % shorter than the agent's
    # sphere: a route planned right at the range limit must keep that margin
    geofence_check = pytest.importorskip("edge_agent.geofence_check")
    from ground_control.planning.geometry import Projection
    from ground_control.planning.model import GeofenceSpec, HubSpec, ParcelSpec, Point
    from ground_control.planning.to_mission import route_to_mission

    proj = Projection(Point(0.0, 0.0))
    pt = lambda x, y: proj.to_points([[x, y]])[0]           # noqa: E731
    box = GeofenceSpec(inclusion=(pt(-500, -500), pt(500, -500), pt(500, 3000), pt(-500, 3000)))
    req0 = dict(hubs=(HubSpec("H", pt(0, 0)),), geofence=box,
                parcels=(ParcelSpec("p", "H", pt(0, 2500), 1.0),),
                streets=StreetNetwork(((pt(0, 0), pt(0, 2500)),)))
    served = 0
    for range_m in (4_990.0, 5_000.0, 5_010.0, 5_020.0, 5_030.0):   # ~ there and back (5 km)
        robot = drone("r", kind=ROBOT, range_m=range_m)
        req = PlanRequest(vehicles=(robot,), **req0)
        for r in GreedyPlanner().plan(req).routes:
            served += 1
            m = route_to_mission(r, req, robot, req.hubs[0], box, "m")
            assert geofence_check.check_mission(
                m, max_payload_kg=robot.payload_kg, battery_wh=robot.battery_wh,
                wh_per_km=robot.wh_per_km, reserve_fraction=robot.reserve_fraction) == []
    assert served                                            # the longest ranges do serve it
