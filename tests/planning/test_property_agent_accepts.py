"""Property: the edge agent's pre-flight check accepts every mission the planner produces
(geometry, payload and energy on a full battery), so a planned route is never rejected on the
vehicle."""

from hypothesis import HealthCheck, given, settings

from edge_agent import geofence_check
from ground_control.planning.greedy import GreedyPlanner
from ground_control.planning.solver import PyVRPPlanner
from ground_control.planning.to_mission import route_to_mission

from planning_strategies import fleet_request, geofenced_request


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geofenced_request())
def test_agent_accepts_planned_missions(req):
    _check(req, GreedyPlanner().plan(req))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geofenced_request())
def test_agent_accepts_optimised_missions(req):
    _check(req, PyVRPPlanner(time_limit_s=0.1).plan(req))


def _check(req, plan):
    vehicles = {v.vehicle_id: v for v in req.vehicles}
    hubs = {h.hub_id: h for h in req.hubs}
    for k, route in enumerate(plan.routes):
        v = vehicles[route.vehicle_id]
        mission = route_to_mission(route, req, v, hubs[route.hub_id], req.geofence, f"m-{k}")
        assert [s.parcel_id for s in mission.stops] == [s.parcel_id for s in route.stops]
        violations = geofence_check.check_mission(
            mission, max_payload_kg=v.payload_kg, battery_wh=v.battery_wh,
            wh_per_km=v.wh_per_km, reserve_fraction=v.reserve_fraction)
        assert violations == [], [str(x) for x in violations]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet_request())
def test_agent_accepts_planned_robot_missions(req):
    """Mixed fleets: robot legs (visibility paths or streets) respect the zones too."""
    _check(req, GreedyPlanner().plan(req))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet_request())
def test_agent_accepts_optimised_robot_missions(req):
    _check(req, PyVRPPlanner(time_limit_s=0.1).plan(req))
