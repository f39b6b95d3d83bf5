"""A plan never misses a time window by rounding: the solver works in whole seconds, so travel
and service times are rounded up and latest times down (robots ran up to 1.15 s late)."""

from __future__ import annotations

from ground_control.planning.model import (
    HubSpec, ParcelSpec, PlanRequest, Point, TimeWindow, VehicleKind, VehicleSpec,
)
from ground_control.planning.solver import PyVRPPlanner


def _robot(vid: str) -> VehicleSpec:
    return VehicleSpec(vehicle_id=vid, kind=VehicleKind.robot, hub_id="H", payload_kg=20.0,
                       battery_wh=0.0, wh_per_km=0.0, speed_mps=1.0)


def test_windows_hold_to_the_fraction_of_a_second():
    """Three drops 100.4 m apart on a line (planar metres, 1 m/s, 30 s service): in one tour the
    third is reached at 361.2 s, which whole-second travel times (3 x 100 s) would put at 360 s,
    inside a window closing at 360.7 s."""
    drops = {"p1": (100.4, 101.0), "p2": (200.8, 231.0), "p3": (301.2, 360.7)}
    req = PlanRequest(
        hubs=(HubSpec("H", Point(lat=0.0, lon=0.0)),), vehicles=(_robot("r1"), _robot("r2")),
        parcels=tuple(ParcelSpec(parcel_id=pid, hub_id="H", drop_off=Point(lat=0.0, lon=x),
                                 weight_kg=1.0, time_window=TimeWindow(0.0, late))
                      for pid, (x, late) in drops.items()),
        planar=True, robot_detour_factor=1.0)
    plan = PyVRPPlanner(time_limit_s=5.0, max_iterations=2_000, seed=1).plan(req)
    etas = {s.parcel_id: s.eta_s for r in plan.routes for s in r.stops}
    assert set(etas) == set(drops), plan.unplanned
    late = {pid: round(etas[pid] - drops[pid][1], 3) for pid in etas if etas[pid] > drops[pid][1]}
    assert not late
