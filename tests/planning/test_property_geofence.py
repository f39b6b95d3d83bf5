"""Property: whatever the geofence and parcels, every planned leg stays inside the inclusion area
and out of every (unbuffered) no-fly zone; every parcel is either planned or has a reason."""

import shapely
from hypothesis import HealthCheck, given, settings

from ground_control.planning.greedy import GreedyPlanner
from ground_control.planning.solver import PyVRPPlanner

from planning_helpers import PROJ
from planning_strategies import fleet_request, fence_shapes, geofenced_request


def _check(req, plan):
    inc, zones = fence_shapes(req)
    grown = inc.buffer(1e-6)
    served = set()
    for r in plan.routes:
        for leg in r.legs:
            xy = PROJ.to_xy(leg.path)
            for a, b in zip(xy, xy[1:]):
                seg = shapely.LineString([a, b]) if (a != b).any() else shapely.Point(a)
                assert grown.covers(seg), f"leg leaves the area: {a} -> {b}"
                for z in zones:
                    assert not seg.relate_pattern(z, "T********"), f"leg crosses a zone: {a} -> {b}"
        served.update(s.parcel_id for s in r.stops)
    assert served.isdisjoint(plan.unplanned)
    assert served | set(plan.unplanned) == {p.parcel_id for p in req.parcels}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geofenced_request())
def test_greedy_paths_respect_geofence(req):
    _check(req, GreedyPlanner().plan(req))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geofenced_request())
def test_pyvrp_paths_respect_geofence(req):
    _check(req, PyVRPPlanner(time_limit_s=0.1).plan(req))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet_request())
def test_mixed_fleet_paths_respect_geofence(req):
    """Robot legs too, with and without streets (the zones close streets to robots)."""
    _check(req, GreedyPlanner().plan(req))
