"""Why the autopilot changed mode: texts after the change first, then those before it."""

from edge_agent.failsafe_reason import classify, explains_mode_change
from edge_agent.mission_state import MissionRun
from edge_factories import make_mission

T0 = 1_700_000_000.0


def test_text_after_the_heartbeat_names_the_reason():
    assert classify(["EKF Failsafe: changed to LAND Mode"], []) == "ekf"
    assert classify([], ["GPS 1: lost"]) == "gps_loss"
    assert classify(["Battery failsafe: changed to RTL Mode"], ["Polygon fence breached"]) == "battery"
    assert classify([], ["Battery 1 is low", "Polygon fence breached"]) == "fence"  # newest first
    assert classify(["Reached command #3"], ["Arming motors"]) == "mode_change"


def test_only_a_failsafe_text_ends_the_wait():
    assert explains_mode_change("EKF Failsafe: changed to LAND Mode")
    assert not explains_mode_change("Polygon fence breached")
    assert not explains_mode_change("Failsafe: something unknown")


def flying() -> MissionRun:
    run = MissionRun(make_mission(stops_m=((120, 0),)))
    run.accept()
    run.started(T0)
    run.on_heartbeat("AUTO", True, T0)
    return run


def test_ekf_failsafe_heartbeat_before_its_text():
    """ArduCopter 4.7 after a GPS loss: HEARTBEAT LAND, then "EKF Failsafe: changed to LAND Mode"."""
    run = flying()
    assert run.on_heartbeat("LAND", True, T0 + 1) == []
    ev = run.on_statustext("EKF Failsafe: changed to LAND Mode", T0 + 1.1)
    assert [a.body.reason for a in ev] == ["ekf"] and ev[0].body.action == "land"
    assert run.tick(T0 + 10) == []  # emitted once


def test_unexplained_mode_change_after_the_window():
    run = flying()
    assert run.on_heartbeat("LAND", True, T0 + 1) == []
    assert run.on_statustext("Reached command #2", T0 + 1.5) == []
    ev = run.tick(T0 + 3.0)
    assert [a.body.reason for a in ev] == ["mode_change"]


def test_disarm_before_the_window_closes_still_reports_the_failsafe_first():
    run = flying()
    run.on_position(52.37, 4.89, 0.0)
    run.on_heartbeat("LAND", True, T0 + 1)
    ev = run.on_heartbeat("LAND", False, T0 + 1.5)
    assert [a.body.kind for a in ev][0] == "failsafe"


def test_pending_failsafe_survives_a_restart():
    import json
    run = flying()
    run.on_heartbeat("RTL", True, T0 + 1)
    again = MissionRun.restore(json.loads(json.dumps(run.snapshot())))
    ev = again.on_statustext("Battery failsafe: changed to RTL Mode", T0 + 1.2)
    assert [a.body.reason for a in ev] == ["battery"]
