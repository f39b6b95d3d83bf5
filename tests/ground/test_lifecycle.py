"""The parcel state machine, pure."""

from datetime import datetime, timezone

import pytest

from ground_control.domain.parcel_lifecycle import (
    TERMINAL, TRANSITIONS, IllegalTransition, ParcelState as S, after_failed_delivery, back_to_planning,
    can_transition, catch_up, transition,
)

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)


def test_happy_path():
    state = S.created
    for nxt in (S.planned, S.dispatched, S.in_transit, S.delivered):
        t = transition(state, nxt, "step", NOW, "ev-1")
        assert (t.from_state, t.to_state, t.event_id) == (state, nxt, "ev-1")
        state = nxt


@pytest.mark.parametrize("a,b", [(S.created, S.delivered), (S.created, S.in_transit), (S.delivered, S.created),
                                 (S.returned, S.created), (S.planned, S.delivered), (S.delivery_failed, S.in_transit)])
def test_illegal(a, b):
    assert not can_transition(a, b)
    with pytest.raises(IllegalTransition, match=f"from {a.value} to {b.value}"):
        transition(a, b, "x", NOW)


def test_terminal_states_have_no_exit():
    for s in TERMINAL:
        assert TRANSITIONS[s] == frozenset()


def test_failed_delivery_goes_back_or_returns():
    assert after_failed_delivery(1, 2) is S.created
    assert after_failed_delivery(2, 2) is S.returned
    assert can_transition(S.delivery_failed, S.created) and can_transition(S.delivery_failed, S.returned)


def test_lost_vehicle_sends_parcels_back():
    for s in (S.planned, S.dispatched, S.in_transit):
        assert back_to_planning(s, 0, 2) == [S.created]
        assert can_transition(s, S.created)
    assert back_to_planning(S.delivery_failed, 2, 2) == [S.returned]
    assert back_to_planning(S.delivered, 0, 2) == []


def test_catch_up_walks_forward_path():
    steps = catch_up(S.planned, S.delivered, "late events", NOW)
    assert [(t.from_state, t.to_state) for t in steps] == [
        (S.planned, S.dispatched), (S.dispatched, S.in_transit), (S.in_transit, S.delivered)]
    with pytest.raises(IllegalTransition):
        catch_up(S.created, S.delivered, "x", NOW)
    with pytest.raises(IllegalTransition):
        catch_up(S.delivered, S.in_transit, "x", NOW)


def test_liveness_does_not_count_our_own_downtime():
    from datetime import timedelta
    from types import SimpleNamespace

    from ground_control.dispatch.liveness import verdict

    old = NOW - timedelta(seconds=120)
    v = SimpleNamespace(status_state="online", status_at=old)
    assert verdict(v, old, NOW, 30) is False                      # silent for 2 minutes
    assert verdict(v, old, NOW, 30, listening_since=NOW - timedelta(seconds=5)) is True   # we just restarted
    assert verdict(SimpleNamespace(status_state="offline", status_at=NOW), NOW, NOW, 30) is False
