"""Custody rules, pure: the ``lost`` state, what an operator may do by hand, exclusions that
expire, why a parcel waits, and proofs measured against the parcel's own drop-off."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ground_control.domain.custody import aboard, operator_refusal
from ground_control.domain.exclusions import VehicleView, describe, is_active, make_exclusion, prune, with_exclusion
from ground_control.domain.parcel_lifecycle import ParcelState as S, back_to_planning, can_transition, on_declared_lost
from ground_control.domain.proof import check_proof
from ground_control.domain.waiting import FleetVehicle, code_of, fleet_reason, planner_reason
from ground_control.planning.model import Point

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)


# ------------------------------------------------------------------ lost
def test_lost_is_reached_only_from_aboard_and_left_to_hub_sender_or_proof():
    assert {s for s in S if can_transition(s, S.lost)} == {S.dispatched, S.in_transit, S.delivery_failed}
    assert {s for s in S if can_transition(S.lost, s)} == {S.created, S.returned, S.delivered}
    assert back_to_planning(S.lost, 0, 2) == [S.created]      # the vehicle turned up at the hub with it


def test_declared_lost_keeps_aboard_parcels_lost_and_frees_only_the_never_taken():
    assert on_declared_lost(S.planned) is S.created
    for s in (S.dispatched, S.in_transit, S.delivery_failed):
        assert on_declared_lost(s) is S.lost
    for s in (S.created, S.delivered, S.returned, S.lost):
        assert on_declared_lost(s) is None


# ------------------------------------------------------------------ operator transitions
@pytest.mark.parametrize("state,active", [(S.planned, True), (S.dispatched, True), (S.in_transit, True),
                                          (S.delivery_failed, True), (S.in_transit, False)])
def test_operator_may_not_take_a_parcel_off_a_vehicle(state, active):
    assert aboard(state, active)
    why = operator_refusal(state, S.created, mission_active=active, vehicle_id="v1", mission_id="m1")
    assert why is not None and "declare-lost" in why and "return_to_hub" in why and "v1" in why


@pytest.mark.parametrize("state,target", [(S.delivery_failed, S.created), (S.delivery_failed, S.returned),
                                          (S.lost, S.created), (S.lost, S.returned)])
def test_operator_may_move_parcels_no_vehicle_holds(state, target):
    assert operator_refusal(state, target, mission_active=False) is None


def test_operator_never_marks_delivered_lost_or_dispatch_states():
    assert "proof" in operator_refusal(S.lost, S.delivered, mission_active=False)
    assert "declare-lost" in operator_refusal(S.delivery_failed, S.lost, mission_active=False, vehicle_id="v1")
    assert "dispatch" in operator_refusal(S.created, S.planned, mission_active=False)


# ------------------------------------------------------------------ exclusions
def test_state_dependent_exclusion_expires_permanent_one_stays():
    energy = make_exclusion("v1", "energy", NOW, 600, battery_pct=30)
    heavy = make_exclusion("v2", "payload", NOW, 600)
    assert heavy["until"] is None and "for good" in describe(heavy)
    assert "until" in describe(energy)
    later = NOW + timedelta(seconds=601)
    assert is_active(energy, NOW + timedelta(seconds=599), None)
    assert not is_active(energy, later, None)
    assert is_active(heavy, later + timedelta(days=30), None)
    assert prune([energy, heavy], later, {}) == [heavy]


def test_exclusion_lifted_by_a_fresh_battery_or_a_return_from_offline():
    e = make_exclusion("v1", "energy", NOW, 600, battery_pct=30)
    soon = NOW + timedelta(seconds=60)
    assert is_active(e, soon, VehicleView(online=True, online_since=NOW - timedelta(hours=1), battery_pct=35))
    assert not is_active(e, soon, VehicleView(online=True, online_since=NOW - timedelta(hours=1), battery_pct=95))
    assert not is_active(e, soon, VehicleView(online=True, online_since=NOW + timedelta(seconds=30), battery_pct=None))
    assert is_active(e, soon, VehicleView(online=False, online_since=NOW + timedelta(seconds=30)))


def test_a_new_refusal_replaces_the_vehicles_old_one():
    a = make_exclusion("v1", "energy", NOW, 600)
    b = make_exclusion("v1", "payload", NOW, 600)
    assert with_exclusion(with_exclusion([], a), b) == [b]


# ------------------------------------------------------------------ waiting reasons
def _v(vid, enabled=True, online=True, busy=False, hub="h"):
    return FleetVehicle(vid, hub, enabled, online, busy)


def test_fleet_reasons_say_what_an_operator_can_fix():
    assert code_of(fleet_reason("h", False, [], [])) == "no_hub"
    assert code_of(fleet_reason("h", True, [_v("x", hub="other")], [])) == "no_vehicle"
    assert "disabled" in fleet_reason("h", True, [_v("a", enabled=False)], [])
    assert "online" in fleet_reason("h", True, [_v("a", online=False)], [])
    excl = [make_exclusion("a", "energy", NOW, 600)]
    why = fleet_reason("h", True, [_v("a")], excl)
    assert code_of(why) == "excluded" and "a refused (energy) until" in why
    assert code_of(fleet_reason("h", True, [_v("a", busy=True), _v("b")], [make_exclusion("b", "payload", NOW, 1)])) == "busy"
    assert fleet_reason("h", True, [_v("a"), _v("b")], excl) is None   # b may take it: the planner decides


def test_planner_reasons_are_worded():
    assert planner_reason("too_heavy").startswith("too_heavy: heavier")


# ------------------------------------------------------------------ proofs
def test_proof_is_measured_against_the_parcels_drop_off():
    drop = Point(52.53, 13.41)
    ok = check_proof(Point(52.53001, 13.41), drop, 50)
    assert ok.refusal is None and 0.5 < ok.distance_m < 2
    far = check_proof(Point(52.62, 13.41), drop, 50, claimed_m=0)
    assert far.refusal.startswith("proof_rejected:") and far.distance_m > 9_000 and "claimed 0 m" in far.refusal
