"""The money-and-time objective: vehicle kinds priced per km, hour and trip, customers' waiting
priced per parcel-minute (heavier for priority parcels), drones' climbs kept out of their price."""

from __future__ import annotations

import dataclasses
import math

import pytest

from ground_control.planning.energy import FlightProfile
from ground_control.planning.model import (
    Objective, ObjectiveKind, PlanRequest, VehicleKind,
)
from ground_control.planning.prices import DEFAULT_PRICES, TIME_OBJECTIVE, priced
from ground_control.planning.solver import PyVRPPlanner

from planning_helpers import drone, hub, parcel

SOLVE = dict(time_limit_s=5.0, max_iterations=2_000, seed=1, flight=FlightProfile())


def _idle_drones(objective: Objective) -> PlanRequest:
    """8 light parcels 0.6-1.1 km from the hub; 3 one-gripper drones and 2 robots idle (the
    demo fleet's speeds: drones 12 m/s, robots 6 m/s)."""
    parcels = tuple(parcel(f"p{i}", (600 + 500 * i / 7) * math.cos(2 * math.pi * i / 8 + 0.3),
                           (600 + 500 * i / 7) * math.sin(2 * math.pi * i / 8 + 0.3), w=0.6)
                    for i in range(8))
    fleet = [drone(f"d{i}", payload=2.5, speed=12.0, max_stops=1) for i in range(3)]
    fleet += [drone(f"r{i}", kind=VehicleKind.robot, payload=25.0, speed=6.0) for i in range(2)]
    if objective.kind is ObjectiveKind.time:
        fleet = [priced(v, DEFAULT_PRICES[v.kind]) for v in fleet]
    return PlanRequest(hubs=(hub(),), vehicles=tuple(fleet), parcels=parcels, objective=objective)


def _mean_eta(plan) -> float:
    etas = [s.eta_s for r in plan.routes for s in r.stops]
    return sum(etas) / len(etas)


def test_idle_drones_time_objective_uses_the_drones_and_delivers_sooner():
    by_distance = PyVRPPlanner(**SOLVE).plan(_idle_drones(Objective()))
    by_time = PyVRPPlanner(**SOLVE).plan(_idle_drones(TIME_OBJECTIVE))
    assert not by_distance.unplanned and not by_time.unplanned
    drones = {r.vehicle_id for r in by_time.routes if r.stops and r.vehicle_id.startswith("d")}
    assert drones == {"d0", "d1", "d2"}
    assert _mean_eta(by_time) < 0.6 * _mean_eta(by_distance)
    last = lambda p: max(s.eta_s for r in p.routes for s in r.stops)  # noqa: E731
    assert last(by_time) < 0.4 * last(by_distance)


def test_same_speed_robots_share_a_tour_when_customers_wait():
    """A duration price is the same for one robot doing the tour or two sharing it; the waiting
    is not: under the time objective the idle robot takes part of the tour."""
    parcels = tuple(parcel(f"p{i}", 900 * math.cos(2 * math.pi * i / 6),
                           900 * math.sin(2 * math.pi * i / 6), w=1.0) for i in range(6))
    fleet = tuple(priced(drone(f"r{i}", kind=VehicleKind.robot, payload=25.0, speed=6.0),
                         DEFAULT_PRICES[VehicleKind.robot]) for i in range(2))
    req = PlanRequest(hubs=(hub(),), vehicles=fleet, parcels=parcels, objective=TIME_OBJECTIVE)
    plan = PyVRPPlanner(**SOLVE).plan(req)
    assert not plan.unplanned
    assert sorted(r.vehicle_id for r in plan.routes if r.stops) == ["r0", "r1"]


def test_a_drone_kilometre_is_priced_like_a_robot_kilometre():
    """Same price per km, the drone's way is shorter (the robot's detour factor): the drone gets
    the parcel. Its climbs and hover count against its range, not as extra kilometres."""
    req = PlanRequest(hubs=(hub(),), parcels=(parcel("p", 1000, 0),),
                      vehicles=(drone("d", max_stops=1),
                                drone("r", kind=VehicleKind.robot, payload=20)),
                      robot_detour_factor=1.3)
    plan = PyVRPPlanner(**SOLVE).plan(req)
    assert [r.vehicle_id for r in plan.routes] == ["d"]


def test_one_gripper_drone_range_stays_exact():
    """A parcel whose round trip plus climbs and hover just fits the drone's range is served;
    one a little further is out of range."""
    flight = FlightProfile()
    d = drone("d", max_stops=1, range_m=6_000.0)
    start_oh, stop_oh = flight.overheads(d)
    reach = (flight.budget_m(d) - start_oh - stop_oh) / 2
    for x, served in ((reach - 5, True), (reach + 5, False)):
        req = PlanRequest(hubs=(hub(),), vehicles=(d,), parcels=(parcel("p", x, 0),))
        plan = PyVRPPlanner(**SOLVE).plan(req)
        assert bool(plan.routes) is served, x
        for r in plan.routes:
            assert r.distance_m + start_oh + stop_oh <= flight.budget_m(d) + 1e-6


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_waiting_cost_is_reported_exactly_and_weighs_priority(seed):
    obj = dataclasses.replace(TIME_OBJECTIVE, wait_cost_per_parcel_min=0.5,
                              priority_wait_factor=1.0)
    req = PlanRequest(hubs=(hub(),), vehicles=(drone("d", speed=10.0),),
                      parcels=(parcel("vip", -600, 0, priority=3), parcel("a", 600, 0)),
                      objective=obj)
    plan = PyVRPPlanner(**dict(SOLVE, seed=seed)).plan(req)
    eta = {s.parcel_id: s.eta_s for r in plan.routes for s in r.stops}
    assert set(eta) == {"a", "vip"}
    expect = 0.5 * eta["a"] / 60 + 0.5 * 3 * eta["vip"] / 60
    assert plan.waiting_cost == pytest.approx(expect)
    # the solver's duration price is blind to the order of drops: the plan drives the tour
    # the way round that serves the priority parcel first
    assert eta["vip"] < eta["a"]
    assert Objective().wait_weight(5) == 0.0      # the distance objective prices no waiting
