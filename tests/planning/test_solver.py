import pytest

from ground_control.planning import make_planner
from ground_control.planning.energy import FlightProfile
from ground_control.planning.greedy import GreedyPlanner
from ground_control.planning.model import PlanRequest, UnplannedReason as R, VehicleKind
from ground_control.planning.solver import PyVRPPlanner

from planning_helpers import drone, fence, hub, parcel, square

FAST = dict(time_limit_s=0.3)


def _served(plan):
    return {s.parcel_id: r.vehicle_id for r in plan.routes for s in r.stops}


def _ring(n, r=800.0, **kw):
    import math
    return tuple(parcel(f"p{i}", r * math.cos(2 * math.pi * i / n), r * math.sin(2 * math.pi * i / n),
                        **kw) for i in range(n))


def test_make_planner_kinds():
    assert isinstance(make_planner("pyvrp"), PyVRPPlanner)
    assert isinstance(make_planner("greedy"), GreedyPlanner)
    with pytest.raises(ValueError):
        make_planner("magic")


def test_capacity_is_respected_and_excess_is_not_selected():
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1", payload=3), drone("d2", payload=3)),
                      parcels=_ring(8, w=1.0))
    plan = PyVRPPlanner(**FAST).plan(req)
    for r in plan.routes:
        assert len(r.stops) <= 3
    assert len(_served(plan)) == 6
    assert sorted(plan.unplanned.values()) == [R.not_selected, R.not_selected]


def test_priority_decides_who_is_left_out():
    parcels = list(_ring(4, w=1.0))
    parcels[2] = parcel("vip", 0, -900, w=1.0, priority=5)
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1", payload=3),), parcels=tuple(parcels))
    plan = PyVRPPlanner(**FAST).plan(req)
    assert "vip" in _served(plan) and len(plan.unplanned) == 1


def test_range_and_reasons():
    req = PlanRequest(
        hubs=(hub("H"), hub("G", 2000, 0)),
        vehicles=(drone("d1", range_m=4_000), drone("r1", hub_id="G", kind=VehicleKind.robot,
                                                   payload=20)),
        parcels=(parcel("near", 500, 0), parcel("far", 2500, 0), parcel("heavy", 10, 10, w=9),
                 parcel("zone", 0, 1000), parcel("robot", 2100, 0, hub_id="G", w=9),
                 parcel("late", 1000, 0, tw=(0, 5))),
        geofence=fence(exclusions=[square(0, 1000, 50)]))
    plan = PyVRPPlanner(**FAST).plan(req)
    served = _served(plan)
    assert served == {"near": "d1", "robot": "r1"}
    assert plan.unplanned == {"far": R.out_of_range, "heavy": R.too_heavy,
                              "zone": R.outside_area, "late": R.time_window}
    for r in plan.routes:
        v = {"d1": 4_000, "r1": float("inf")}[r.vehicle_id]
        assert r.distance_m <= v


def test_time_windows_are_met():
    # a drone's first drop 1 km out comes after 27 s take-off, 100 s flight, 43 s descent and hover
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1", speed=10), drone("d2", speed=10)),
                      parcels=(parcel("a", 1000, 0, tw=(600, 700)), parcel("b", -1000, 0, tw=(0, 180)),
                               parcel("c", 0, 1000, tw=(100, 250)), parcel("d", 0, -1000)))
    plan = PyVRPPlanner(**FAST).plan(req)
    assert not plan.unplanned
    tw = {p.parcel_id: p.time_window for p in req.parcels}
    for r in plan.routes:
        for s in r.stops:
            w = tw[s.parcel_id]
            if w:
                assert w.earliest_s - 1e-6 <= s.eta_s <= w.latest_s + 1e-6


def test_two_hubs_parcels_leave_from_their_own_hub():
    req = PlanRequest(hubs=(hub("H"), hub("G", 3000, 0)),
                      vehicles=(drone("dH"), drone("dG", hub_id="G")),
                      parcels=(parcel("h1", 2900, 100), parcel("h2", 2800, -100),
                               parcel("g1", 100, 100, hub_id="G"), parcel("g2", 150, -100, hub_id="G")))
    plan = PyVRPPlanner(**FAST).plan(req)
    served = _served(plan)
    assert served == {"h1": "dH", "h2": "dH", "g1": "dG", "g2": "dG"}
    for r in plan.routes:
        assert r.legs[0].path[0] == r.legs[-1].path[-1] == {"H": req.hubs[0], "G": req.hubs[1]}[r.hub_id].position


def test_same_seed_same_plan():
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1", payload=4), drone("d2", payload=4)),
                      parcels=_ring(10, w=1.0), seed=7)
    # an iteration cap (reached well before the clock) makes the run independent of load
    p1 = PyVRPPlanner(time_limit_s=30, max_iterations=300).plan(req)
    p2 = PyVRPPlanner(time_limit_s=30, max_iterations=300).plan(req)
    assert p1.routes == p2.routes and p1.unplanned == p2.unplanned


def test_committed_stops_stay_first():
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1", payload=6), drone("d2", available=False)),
                      parcels=_ring(6, w=1.0), committed={"d1": ("p3", "p0"), "d2": ("p1",)})
    for planner in (PyVRPPlanner(**FAST), GreedyPlanner()):
        plan = planner.plan(req)
        (route,) = plan.routes
        ids = [s.parcel_id for s in route.stops]
        assert ids[:2] == ["p3", "p0"] and sorted(ids) == [f"p{i}" for i in range(6)]


def test_legs_detour_around_zones_and_energy():
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1"),), parcels=(parcel("a", 1000, 0),),
                      geofence=fence(exclusions=[square(500, 0, 100)], margin=10))
    (route,) = PyVRPPlanner(**FAST).plan(req).routes
    assert len(route.legs[0].path) == 4 and len(route.legs[1].path) == 4
    start_oh, stop_oh = FlightProfile().overheads(req.vehicles[0])
    assert route.energy_wh == pytest.approx((route.distance_m + start_oh + stop_oh) / 1000 * 10.0)
    # the ETA is the release: take-off climb to 40 m, the flight, descent to 5 m and the hover
    vt = FlightProfile().times(req.vehicles[0])
    assert (vt.takeoff_s, vt.arrive_s, vt.leave_s) == pytest.approx((40 / 1.5, 35 / 1.5 + 20, 35 / 1.5))
    assert route.stops[0].eta_s == pytest.approx(vt.takeoff_s + route.legs[0].distance_m / 10.0
                                                 + vt.arrive_s)
    assert route.duration_s == pytest.approx(route.distance_m / 10.0 + 30.0 + 2 * 40 / 1.5
                                             + 2 * 35 / 1.5 + 20)


def test_robots_follow_the_street_network():
    from ground_control.planning.model import StreetNetwork
    from planning_helpers import at
    streets = StreetNetwork(lines=((at(0, 0), at(1000, 0), at(1000, 1000)),))
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("r1", kind=VehicleKind.robot),),
                      parcels=(parcel("a", 1000, 990),), streets=streets)
    (route,) = PyVRPPlanner(**FAST).plan(req).routes
    # along the street (1000 + 990) plus 0 m of access; the corner is a waypoint
    assert route.legs[0].distance_m == pytest.approx(1990, abs=0.5)
    assert len(route.legs[0].path) >= 3


@pytest.mark.parametrize("planner", [PyVRPPlanner(**FAST), GreedyPlanner()])
def test_degenerate_requests(planner):
    empty = planner.plan(PlanRequest(hubs=(hub(),), vehicles=(drone("d1"),), parcels=()))
    assert empty.routes == () and empty.unplanned == {}
    none = planner.plan(PlanRequest(hubs=(hub(),), vehicles=(drone("d1", available=False),),
                                    parcels=(parcel("a", 10, 0),)))
    assert none.routes == () and none.unplanned == {"a": R.no_vehicle}


def test_route_to_mission_carries_leg_waypoints():
    from ground_control.planning.to_mission import route_to_mission
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1"),),
                      parcels=(parcel("a", 1000, 0, w=2.0),),
                      geofence=fence(exclusions=[square(500, 0, 100)]))
    (route,) = PyVRPPlanner(**FAST).plan(req).routes
    m = route_to_mission(route, req, req.vehicles[0], req.hubs[0], req.geofence, "m-1")
    assert [s.parcel_id for s in m.stops] == ["a"] and m.stops[0].weight_kg == 2.0
    assert len(m.stops[0].path) == len(route.legs[0].path) - 2 == 2
    assert len(m.return_path) == len(route.legs[1].path) - 2
    assert m.stops[0].action.value == "release" and len(m.geofence.exclusions) == 1


def test_feasible_parcels_are_served_however_expensive():
    # prizes outweigh fixed cost, distance and drone overheads: optional only matters at capacity
    req = PlanRequest(hubs=(hub(),),
                      vehicles=(drone("d1", fixed_cost=5_000, cost_per_km=900, range_m=30_000),),
                      parcels=(parcel("far", 6000, 0), parcel("near", 10, 0)))
    plan = PyVRPPlanner(**FAST).plan(req)
    assert not plan.unplanned and {s.parcel_id for r in plan.routes for s in r.stops} == {"far", "near"}


@pytest.mark.parametrize("planner", [PyVRPPlanner(**FAST), GreedyPlanner()], ids=["pyvrp", "greedy"])
def test_one_gripper_drone_carries_one_parcel_per_trip(planner):
    """A servo gripper that opened once cannot release a second parcel (real ArduPilot): a
    one-bay drone gets one stop per trip even when its payload would allow more."""
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1", max_stops=1), drone("d2", max_stops=1),
                                               drone("d3", max_stops=2)),
                      parcels=_ring(6, w=0.5))
    plan = planner.plan(req)
    stops = {r.vehicle_id: len(r.stops) for r in plan.routes}
    assert stops.get("d1", 0) <= 1 and stops.get("d2", 0) <= 1 and stops.get("d3", 0) <= 2
    assert len(_served(plan)) == sum(stops.values()) == 4
    assert sorted(plan.unplanned.values()) == [R.not_selected, R.not_selected]


def test_stop_limit_counts_committed_stops():
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1", max_stops=2),), parcels=_ring(4, w=0.5),
                      committed={"d1": ("p0",)})
    plan = PyVRPPlanner(**FAST).plan(req)
    (route,) = plan.routes
    assert [s.parcel_id for s in route.stops][0] == "p0" and len(route.stops) == 2
