"""The ETA model: remaining path from the vehicle's progress, its observed speed, each stop's
service time, mission order; and the smoothed observed speed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ground_control.planning.geometry import haversine_m
from ground_control.planning.model import Point
from ground_control.tracking.eta import EtaInput, MissionStop, ObservedSpeed, ServiceTimes, estimate, remaining_on_leg_m
from ground_control.tracking.speed import SpeedTracker

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
HUB = Point(52.52, 13.405)
A = Point(52.529, 13.405)     # ~1 km north
B = Point(52.538, 13.405)     # ~2 km north
NO_SERVICE = ServiceTimes(release_s=0.0, handover_wait_s=0.0)


def robot(target: str, **kw) -> EtaInput:
    base = dict(now=NOW, drone=False, nominal_speed_mps=2.0, hub=HUB,
                stops=(MissionStop("a", A), MissionStop("b", B)), target=target, service=NO_SERVICE)
    base.update(kw)
    return EtaInput(**base)


def test_at_the_hub_the_eta_is_the_whole_path_at_nominal_speed():
    e = estimate(robot("b"))
    d = haversine_m(HUB, A) + haversine_m(A, B)
    assert e.seconds == pytest.approx(d / 2.0, rel=1e-6)
    assert e.eta == NOW + timedelta(seconds=e.seconds)
    assert e.low < e.eta < e.high and e.basis.startswith("nominal_speed") and e.stops_before == 1


def test_stop_order_counts_only_the_stops_before_this_one_and_skips_done_ones():
    first, second = estimate(robot("a")), estimate(robot("b"))
    assert first.seconds < second.seconds and first.stops_before == 0
    # "a" delivered: b's leg starts at a, the hub->a leg is no longer ahead
    skipped = estimate(robot("b", done=frozenset({"a"}), airborne=True, position=A))
    assert skipped.stops_before == 0
    assert skipped.remaining_m == pytest.approx(haversine_m(A, B), rel=1e-3)
    assert estimate(robot("a", done=frozenset({"a"}))) is None          # delivered: no ETA
    assert estimate(robot("zzz")) is None                              # not on this mission


def test_progress_along_the_leg_and_its_waypoints_is_measured_from_the_vehicle():
    mid = Point((HUB.lat + A.lat) / 2, HUB.lon)
    e = estimate(robot("a", airborne=True, position=mid))
    assert e.remaining_m == pytest.approx(haversine_m(mid, A), rel=1e-3) and "en_route" in e.basis
    # a dog-leg through a waypoint east: the rest of the polyline, not the straight line
    east = Point(52.5245, 13.420)
    stops = (MissionStop("a", A, path=(east,)),)
    on_way = Point((HUB.lat + east.lat) / 2, (HUB.lon + east.lon) / 2)
    left = remaining_on_leg_m((HUB, east, A), on_way)
    assert left == pytest.approx(haversine_m(on_way, east) + haversine_m(east, A), rel=1e-3)
    assert estimate(robot("a", stops=stops, airborne=True, position=on_way)).remaining_m == pytest.approx(left, rel=1e-6)


def test_observed_speed_replaces_the_nominal_one_as_samples_come_in():
    slow = ObservedSpeed(mean_mps=1.0, sd_mps=0.05, samples=100)
    e_nom, e_obs = estimate(robot("a")), estimate(robot("a", observed=slow))
    assert e_obs.seconds == pytest.approx(2 * e_nom.seconds, rel=0.1)       # half the speed, twice the time
    assert e_obs.basis.startswith("observed_speed")
    few = estimate(robot("a", observed=ObservedSpeed(mean_mps=1.0, sd_mps=0.05, samples=1)))
    assert e_nom.seconds < few.seconds < e_obs.seconds                     # one sample: not trusted yet
    # a noisy speed widens the band
    noisy = estimate(robot("a", observed=ObservedSpeed(mean_mps=1.0, sd_mps=0.5, samples=100)))
    assert (noisy.high - noisy.low) > (e_obs.high - e_obs.low)


def test_service_times_drone_climb_descent_release_and_robot_handover_wait():
    svc = ServiceTimes(climb_mps=2.0, descent_mps=1.0, release_s=10.0, handover_wait_s=60.0, departure_s=0.0)
    base = dict(now=NOW, nominal_speed_mps=10.0, hub=HUB, stops=(MissionStop("a", A), MissionStop("b", B)),
                service=svc, cruise_alt_m=40.0, drop_alt_m=10.0)
    travel_b = (haversine_m(HUB, A) + haversine_m(A, B)) / 10.0
    drone_b = estimate(EtaInput(drone=True, target="b", **base))
    # take-off 40/2 + at a: descend 30/1 + release 10 + climb 30/2 + at b: descend 30 + release 10
    assert drone_b.seconds == pytest.approx(travel_b + 20 + (30 + 10 + 15) + (30 + 10), rel=1e-6)
    robot_b = estimate(EtaInput(drone=False, target="b", **base))
    assert robot_b.seconds == pytest.approx(travel_b + 60, rel=1e-6)       # a's handover wait only
    # a robot's handover wait is irregular: a wider band than a drone's release
    assert (robot_b.high - robot_b.low) > (drone_b.high - drone_b.low) - timedelta(seconds=1)
    # airborne: no take-off any more
    airborne = estimate(EtaInput(drone=True, target="a", airborne=True, position=HUB, **base))
    assert airborne.seconds == pytest.approx(haversine_m(HUB, A) / 10.0 + 30 + 10, rel=1e-3)


def test_speed_tracker_smooths_moving_samples_and_ignores_hover_and_repeats():
    t = SpeedTracker(alpha=0.5)
    for i, v in enumerate([10.0, 12.0, 0.0, 11.0]):
        t.add("v1", "m1", NOW + timedelta(seconds=i), v)
    t.add("v1", "m1", NOW + timedelta(seconds=3), 99.0)     # same timestamp again: ignored
    obs = t.observed("v1", "m1")
    assert obs.samples == 3 and 10.0 < obs.mean_mps < 12.0 and obs.sd_mps > 0
    assert t.observed("v1", "m2") is None                    # another mission starts afresh
    t.add("v1", "m2", NOW + timedelta(seconds=9), 5.0)
    assert t.observed("v1", "m2").mean_mps == 5.0 and t.observed("v1", "m1") is None


def test_the_estimate_counts_from_when_its_facts_were_true_and_is_never_in_the_past():
    mid = Point((HUB.lat + A.lat) / 2, HUB.lon)
    fresh = estimate(robot("a", airborne=True, position=mid, position_at=NOW))
    old = estimate(robot("a", airborne=True, position=mid, position_at=NOW - timedelta(seconds=10)))
    assert fresh.eta - old.eta == timedelta(seconds=10) and old.as_of == NOW - timedelta(seconds=10)
    # at the stop: the service counts from the reported arrival
    svc = ServiceTimes(descent_mps=1.0, release_s=10.0)
    at = dict(now=NOW, drone=True, nominal_speed_mps=10.0, hub=HUB, stops=(MissionStop("a", A),), target="a",
              airborne=True, position=A, at_stop="a", cruise_alt_m=40.0, drop_alt_m=10.0, service=svc)
    arrived = estimate(EtaInput(reached_at=NOW - timedelta(seconds=15), **at))
    assert arrived.seconds == pytest.approx(30 + 10 - 15) and "at_stop" in arrived.basis
    overdue = estimate(EtaInput(reached_at=NOW - timedelta(seconds=300), **at))
    assert overdue.eta == NOW and overdue.low == NOW and overdue.high > NOW


def test_the_robots_handover_wait_is_learnt_from_recent_handovers():
    from ground_control.tracking.handover_wait import blended, waits

    t = lambda s: NOW + timedelta(seconds=s)  # noqa: E731
    rows = [("leg_reached", "m1", "a", t(0)), ("delivered", "m1", "a", t(4)),
            ("leg_reached", "m1", "b", t(100)), ("delivered", "m1", "b", t(108)),
            ("leg_reached", "m2", "c", t(0)),                                    # still waiting: no figure
            ("leg_reached", "m2", None, t(5)), ("delivered", "m3", "d", t(9))]   # hub leg, unmatched
    assert sorted(waits(rows)) == [4.0, 8.0]
    fig = blended([4.0, 8.0] * 10, prior_s=30.0, prior_sd_s=60.0)
    assert fig.samples == 20 and 6.0 < fig.mean_s < 10.0           # the fleet's figure outweighs the guess
    assert blended([], 30.0, 60.0).mean_s == 30.0
    # a robot behind a quick-handover stop gets an earlier ETA than with the fixed guess
    quick = ServiceTimes(release_s=0.0, handover_wait_s=fig.mean_s)
    assert estimate(robot("b", service=quick)).seconds < estimate(robot("b", service=ServiceTimes())).seconds


def test_a_drone_still_climbing_counts_the_rest_of_its_climb():
    base = dict(now=NOW, drone=True, nominal_speed_mps=10.0, hub=HUB, stops=(MissionStop("a", A),), target="a",
                airborne=True, position=HUB, cruise_alt_m=40.0, drop_alt_m=10.0,
                service=ServiceTimes(climb_mps=2.0, descent_mps=1.0, release_s=0.0))
    level = estimate(EtaInput(altitude_m=40.0, **base))
    climbing = estimate(EtaInput(altitude_m=10.0, **base))
    assert climbing.seconds - level.seconds == pytest.approx(15.0)
