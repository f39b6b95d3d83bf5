import math
import time

from ground_control.planning.model import PlanRequest
from ground_control.planning.replan import Replanner, clean_committed, released_parcels

from planning_helpers import drone, fence, hub, parcel, square


def _request(n_parcels, committed, failed=()):
    parcels = tuple(parcel(f"p{i}", 3000 * math.cos(i * 2.4), 3000 * math.sin(i * 1.7) * (i % 7) / 7,
                           w=0.5 + (i % 4) * 0.5) for i in range(n_parcels))
    vehicles = tuple(drone(f"d{k}", payload=6, range_m=25_000, available=f"d{k}" not in failed)
                     for k in range(20))
    return PlanRequest(hubs=(hub(),), vehicles=vehicles, parcels=parcels, committed=committed,
                       geofence=fence(exclusions=[square(1500, 1500, 200), square(-1200, 400, 150)]))


def test_failed_vehicle_releases_its_parcels_and_committed_stay_first():
    req = _request(30, {"d0": ("p1", "p2"), "d1": ("p3",), "d2": ("p4", "ghost")}, failed=("d1",))
    assert released_parcels(req) == {"p3"}
    assert clean_committed(req) == {"d0": ("p1", "p2"), "d2": ("p4",)}
    plan = Replanner(budget_s=1.0, seed=1).plan(req)
    routes = {r.vehicle_id: [s.parcel_id for s in r.stops] for r in plan.routes}
    assert routes["d0"][:2] == ["p1", "p2"] and routes["d2"][0] == "p4"
    assert "d1" not in routes
    served = {p for ids in routes.values() for p in ids}
    assert "p3" in served or "p3" in plan.unplanned
    assert len(served) + len(plan.unplanned) == 30


def test_replan_200_parcels_within_budget(capsys):
    committed = {f"d{k}": (f"p{2 * k}", f"p{2 * k + 1}") for k in range(0, 20, 2)}
    req = _request(200, committed, failed=("d3", "d5"))
    t0 = time.perf_counter()
    plan = Replanner(budget_s=2.0, seed=0).plan(req)
    elapsed = time.perf_counter() - t0
    with capsys.disabled():
        print(f"\nreplan 200 parcels / 18 drones / 2 zones: {elapsed:.2f} s "
              f"({sum(len(r.stops) for r in plan.routes)} served, {len(plan.unplanned)} unplanned)")
    for vid, ids in clean_committed(req).items():
        route = next(r for r in plan.routes if r.vehicle_id == vid)
        assert tuple(s.parcel_id for s in route.stops[:len(ids)]) == ids
