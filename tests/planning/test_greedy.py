import pytest

from ground_control.planning import make_planner
from ground_control.planning.energy import FlightProfile
from ground_control.planning.greedy import GreedyPlanner
from ground_control.planning.model import PlanRequest, UnplannedReason as R

from planning_helpers import drone, fence, hub, parcel, square


def _served(plan):
    return {s.parcel_id: r.vehicle_id for r in plan.routes for s in r.stops}


def test_capacity_and_reasons():
    req = PlanRequest(
        hubs=(hub("H"), hub("G", 3000, 0)),
        vehicles=(drone("d1", payload=2.0, range_m=8_000),),
        parcels=(parcel("a", 500, 0), parcel("b", 600, 0), parcel("c", 700, 0),
                 parcel("heavy", 100, 0, w=3.0), parcel("zone", 1500, 1500),
                 parcel("far", 4500, 0), parcel("lonely", 3100, 0, hub_id="G"),
                 parcel("late", 1000, 0, tw=(0, 10))),
        geofence=fence(exclusions=[square(1500, 1500, 50)]))
    plan = GreedyPlanner().plan(req)
    served = _served(plan)
    assert len(served) == 2 and set(served) <= {"a", "b", "c"}
    assert plan.unplanned["heavy"] is R.too_heavy
    assert plan.unplanned["zone"] is R.outside_area
    assert plan.unplanned["far"] is R.out_of_range
    assert plan.unplanned["lonely"] is R.no_vehicle
    assert plan.unplanned["late"] is R.time_window
    assert [plan.unplanned[p] for p in {"a", "b", "c"} - set(served)] == [R.not_selected]


def test_range_respected_and_legs_consistent():
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1", payload=50, range_m=5_000),),
                      parcels=tuple(parcel(f"p{i}", 400 * i, 300) for i in range(1, 8)))
    plan = make_planner("greedy").plan(req)
    for r in plan.routes:
        assert r.distance_m <= 5_000 + 1e-6
        assert len(r.legs) == len(r.stops) + 1
        assert r.legs[0].path[0] == req.hubs[0].position == r.legs[-1].path[-1]
        assert abs(sum(l.distance_m for l in r.legs) - r.distance_m) < 1e-6
        start_oh, stop_oh = FlightProfile().overheads(req.vehicles[0])
        level = r.distance_m + start_oh + stop_oh * len(r.stops)   # climbs and hover included
        assert r.energy_wh == pytest.approx(level / 1000 * 10.0)
        assert r.energy_wh <= req.vehicles[0].battery_wh * 0.8 + 1e-9


def test_time_windows_respected():
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1", speed=10),),
                      parcels=(parcel("late", 100, 0, tw=(500, 600)),
                               parcel("early", 2000, 0, tw=(0, 300))))
    plan = GreedyPlanner().plan(req)
    (route,) = plan.routes
    assert [s.parcel_id for s in route.stops] == ["early", "late"]
    eta = {s.parcel_id: s.eta_s for s in route.stops}
    assert eta["early"] <= 300 and 500 <= eta["late"] <= 600


def test_committed_stay_first_and_failed_vehicle_releases():
    req = PlanRequest(hubs=(hub(),),
                      vehicles=(drone("d1"), drone("d2", available=False)),
                      parcels=(parcel("a", 100, 0), parcel("b", 2000, 0), parcel("c", 150, 0)),
                      committed={"d1": ("b",), "d2": ("c",)})
    plan = GreedyPlanner().plan(req)
    (route,) = plan.routes
    ids = [s.parcel_id for s in route.stops]
    assert ids[0] == "b" and set(ids) == {"a", "b", "c"}


def test_detour_around_zone():
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d1"),),
                      parcels=(parcel("a", 1000, 0),),
                      geofence=fence(exclusions=[square(500, 0, 100)], margin=10))
    (route,) = GreedyPlanner().plan(req).routes
    assert len(route.legs[0].path) > 2 and route.legs[0].distance_m > 1000
