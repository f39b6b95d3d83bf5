"""Whole-day plans: vehicles come back, swap batteries and go again, so every feasible parcel gets
a vehicle and an ETA; the first trips stay what dispatch sends."""

from __future__ import annotations

import math

from ground_control.planning.day_plan import DayPlanner
from ground_control.planning.energy import FlightProfile
from ground_control.planning.model import PlanRequest, UnplannedReason as R, VehicleKind
from ground_control.planning.solver import PyVRPPlanner

from planning_helpers import drone, hub, parcel

SOLVE = dict(time_limit_s=2.0, max_iterations=500, seed=1, flight=FlightProfile())


def _ring(n: int, r: float = 900.0):
    return tuple(parcel(f"p{i}", r * math.cos(2 * math.pi * i / n),
                        r * math.sin(2 * math.pi * i / n), w=1.0) for i in range(n))


def test_every_feasible_parcel_gets_a_trip_and_an_eta():
    parcels = _ring(7) + (parcel("far", 40_000, 0),)       # out of every vehicle's range
    req = PlanRequest(hubs=(hub(),), parcels=parcels,
                      vehicles=(drone("d1", max_stops=1), drone("d2", max_stops=1),
                                drone("r1", kind=VehicleKind.robot, payload=3.0, speed=5.0)))
    one_trip = PyVRPPlanner(**SOLVE).plan(req)
    assert sum(1 for r in one_trip.unplanned.values() if r is R.not_selected) == 2
    day = DayPlanner(PyVRPPlanner(**SOLVE), turnaround_s=300.0).plan(req)
    # the first trips are what dispatch sends: one per vehicle
    assert sorted(r.vehicle_id for r in day.routes) == ["d1", "d2", "r1"]
    assert all(r.trip == 0 for r in day.routes) and day.later
    etas = {s.parcel_id: s.eta_s for r in day.routes + day.later for s in r.stops}
    assert set(etas) == {f"p{i}" for i in range(7)}
    assert day.unplanned == {"far": R.out_of_range}
    # a vehicle leaves again only after it is back and turned around
    by_vehicle: dict[str, list] = {}
    for r in sorted(day.routes + day.later, key=lambda r: r.trip):
        by_vehicle.setdefault(r.vehicle_id, []).append(r)
    for trips in by_vehicle.values():
        assert [t.trip for t in trips] == sorted({t.trip for t in trips})
        for a, b in zip(trips, trips[1:]):
            assert b.depart_s >= a.depart_s + a.duration_s + 300.0 - 1e-6
    for r in day.routes + day.later:            # each trip within payload, stops and range
        v = next(v for v in req.vehicles if v.vehicle_id == r.vehicle_id)
        assert len(r.stops) <= (v.max_stops or 99)
        assert len(r.stops) * 1.0 <= v.payload_kg
        start_oh, stop_oh = FlightProfile().overheads(v)
        assert r.distance_m + start_oh + stop_oh * len(r.stops) <= FlightProfile().budget_m(v)


def test_a_window_later_trips_cannot_reach_keeps_its_reason():
    """A parcel whose window closes before any vehicle is back is reported, not planned late."""
    parcels = (parcel("a", 900, 0, tw=(0, 400)), parcel("b", -900, 0, tw=(0, 400)))
    req = PlanRequest(hubs=(hub(),), parcels=parcels, vehicles=(drone("d1", max_stops=1),))
    day = DayPlanner(PyVRPPlanner(**SOLVE), turnaround_s=300.0).plan(req)
    served = {s.parcel_id for r in day.routes + day.later for s in r.stops}
    assert len(served) == 1 and not day.later
    (left,) = set(day.unplanned)
    assert day.unplanned[left] is R.time_window
