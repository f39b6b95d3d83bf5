from fleet_protocol import Command
from edge_agent.mission_state import Disarm, Emit, MissionRun, SetMode, State
from edge_factories import make_mission

T0 = 1_700_000_000.0


def kinds(actions):
    return [a.body.kind for a in actions if isinstance(a, Emit)]


def modes(actions):
    return [a.mode for a in actions if isinstance(a, SetMode)]


def flying(kind="drone", **kw):
    run = MissionRun(make_mission(kind=kind, **kw))
    assert kinds(run.accept()) == ["accepted"]
    assert kinds(run.started(T0)) == ["started"]
    run.on_heartbeat("AUTO", True, T0)
    run.on_position(52.37, 4.89, 0.0)
    return run


def test_copter_two_drops_and_return():
    run = flying()
    tm = run.tm
    ev = []
    for stop in tm.stops:
        ev += run.on_mission_current(stop.arrival_seq, T0 + 1)
        ev += run.on_item_reached(stop.arrival_seq, T0 + 2)
        assert run.state is State.at_dropoff and run.state_label == "releasing"
        run.on_position(52.371, 4.89, 5.0)
        ev += run.on_item_reached(stop.drop_seq, T0 + 3)
        ev += run.on_mission_current(stop.after_seq, T0 + 3)
        ev += run.tick(T0 + 3.1)  # still in the grace window
        assert "delivered" not in kinds(ev[-1:])
        ev += run.tick(T0 + 5)
    assert kinds(ev) == ["leg_reached", "delivered", "leg_reached", "delivered"]
    d = ev[1].body
    assert d.parcel_id == "p1" and d.proof.confirmed and d.proof.method == "release" and d.proof.position.alt_m == 5.0
    ev = run.on_mission_current(tm.final_seq, T0 + 10)
    assert run.state is State.returning
    run.on_position(52.37, 4.89, 0.0)
    ev += run.on_heartbeat("AUTO", False, T0 + 20)  # landed, disarmed, still in AUTO
    assert kinds(ev) == ["leg_reached", "returned"]
    assert ev[0].body.leg_index == 2 and ev[1].body.undelivered == []
    assert run.state is State.completed
    assert run.on_heartbeat("AUTO", False, T0 + 21) == []


def test_lost_item_reached_caught_up_by_mission_current():
    run = flying()
    s0 = run.tm.stops[0]
    ev = run.on_mission_current(s0.after_seq + 1, T0)
    ev += run.tick(T0 + 1)
    assert kinds(ev) == ["leg_reached", "delivered"]
    ev = run.on_item_reached(s0.arrival_seq, T0 + 2) + run.on_mission_current(s0.after_seq + 1, T0 + 2)
    assert ev == []  # idempotent


def test_gripper_failure():
    run = flying()
    s0 = run.tm.stops[0]
    run.on_item_reached(s0.arrival_seq, T0)
    run.on_item_reached(s0.drop_seq, T0 + 1)
    run.on_mission_current(s0.after_seq, T0 + 1)
    ev = run.on_statustext("Gripper: release failed", T0 + 1.2) + run.tick(T0 + 1.3)
    assert kinds(ev) == ["delivery_failed"] and ev[0].body.reason == "release_failed"
    run.on_heartbeat("AUTO", False, T0 + 30)
    assert "p1" in run.undelivered


def test_failsafe_rtl_reports_remaining_undelivered():
    run = flying()
    run.on_statustext("Battery 1 is low 10.1V", T0)
    ev = run.on_heartbeat("RTL", True, T0 + 1)
    assert kinds(ev) == ["failsafe"] and ev[0].body.reason == "battery" and ev[0].body.action == "rtl"
    assert run.state is State.returning
    ev = run.on_heartbeat("RTL", False, T0 + 60)
    assert kinds(ev) == ["leg_reached", "returned"] and ev[1].body.undelivered == ["p1", "p2"]


def test_own_mode_change_is_not_a_failsafe():
    run = flying()
    acts = run.on_command(Command(command_id="c1", action="return_to_hub"), T0)
    assert modes(acts) == ["RTL"] and acts[-1].body.accepted
    assert run.on_heartbeat("RTL", True, T0 + 1) == []


def test_hold_resume_and_acks():
    run = flying()
    a = run.on_command(Command(command_id="c1", action="resume"), T0)
    assert kinds(a) == ["command_ack"] and not a[0].body.accepted and "not holding" in a[0].body.detail
    a = run.on_command(Command(command_id="c2", action="hold"), T0)
    assert modes(a) == ["LOITER"] and run.state is State.holding
    a = run.on_command(Command(command_id="c3", action="resume"), T0)
    assert modes(a) == ["AUTO"] and run.state is State.in_flight and a[-1].body.accepted
    a = run.on_command(Command(command_id="c4", action="land_now"), T0)
    assert modes(a) == ["LAND"]


def test_rover_handover_confirmed_and_timeout():
    run = flying("robot", handover_timeout_s=30)
    s0, s1 = run.tm.stops
    ev = run.on_item_reached(s0.arrival_seq, T0)
    assert kinds(ev) == ["leg_reached"] and modes(ev) == ["HOLD"] and run.state_label == "awaiting_handover"
    bad = run.on_command(Command(command_id="c1", action="handover_confirmed", parcel_id="p2"), T0 + 1)
    assert not bad[-1].body.accepted
    ok = run.on_command(Command(command_id="c2", action="handover_confirmed", parcel_id="p1", handover_code="1234"), T0 + 2)
    assert kinds(ok) == ["delivered", "command_ack"] and modes(ok) == ["AUTO"]
    assert ok[0].body.proof.handover_code == "1234" and ok[0].body.proof.method == "handover"
    ev = run.on_mission_current(s1.arrival_seq, T0 + 3) + run.on_item_reached(s1.arrival_seq, T0 + 10)
    assert kinds(ev) == ["leg_reached"]
    assert run.tick(T0 + 39) == []
    ev = run.tick(T0 + 40.1)
    assert kinds(ev) == ["delivery_failed"] and ev[0].body.reason == "handover_timeout" and modes(ev) == ["AUTO"]
    ev = run.on_item_reached(run.tm.final_seq, T0 + 60)
    assert kinds(ev) == ["leg_reached"] and modes(ev) == ["HOLD"] and any(isinstance(a, Disarm) for a in ev)
    ev = run.on_heartbeat("HOLD", False, T0 + 61)
    assert kinds(ev) == ["returned"] and ev[0].body.undelivered == ["p2"]


def test_rover_handover_refused_is_a_failed_handover():
    """Ground control refused the handover (wrong codes): delivery_failed ``handover_code``, the
    robot drives on at once, and a later confirmation cannot deliver the parcel any more."""
    run = flying("robot", handover_timeout_s=30)
    s0, _ = run.tm.stops
    run.on_item_reached(s0.arrival_seq, T0)
    bad = run.on_command(Command(command_id="c0", action="handover_refused", parcel_id="p2"), T0 + 1)
    assert kinds(bad) == ["command_ack"] and not bad[-1].body.accepted
    ev = run.on_command(Command(command_id="c1", action="handover_refused", parcel_id="p1"), T0 + 2)
    assert kinds(ev) == ["delivery_failed", "command_ack"] and modes(ev) == ["AUTO"] and ev[-1].body.accepted
    assert ev[0].body.reason == "handover_code" and ev[0].body.parcel_id == "p1"
    assert run.state is State.in_flight and run.leg == 1 and run.tick(T0 + 60) == []
    late = run.on_command(Command(command_id="c2", action="handover_confirmed", parcel_id="p1"), T0 + 3)
    assert kinds(late) == ["command_ack"] and not late[-1].body.accepted
    assert "p1" in run.failed and "p1" not in run.delivered


def test_rover_mission_current_past_dropoff_does_not_skip_handover():
    run = flying("robot")
    s0 = run.tm.stops[0]
    # ArduRover moves MISSION_CURRENT to the next item as soon as it reaches the drop-off
    ev = run.on_mission_current(s0.arrival_seq + 1, T0) + run.on_item_reached(s0.arrival_seq, T0)
    assert kinds(ev) == ["leg_reached"] and modes(ev) == ["HOLD"]
    assert run.state_label == "awaiting_handover"


def test_commands_without_mission_in_flight_are_refused():
    run = MissionRun(make_mission())
    a = run.on_command(Command(command_id="c1", action="hold"), T0)
    assert kinds(a) == ["command_ack"] and not a[0].body.accepted


def test_snapshot_round_trip_keeps_exactly_once():
    run = flying()
    s0 = run.tm.stops[0]
    run.on_item_reached(s0.arrival_seq, T0)
    run.on_mission_current(s0.after_seq, T0)
    run.tick(T0 + 1)
    snap = run.snapshot()
    import json
    again = MissionRun.restore(json.loads(json.dumps(snap)))
    assert again.delivered == {"p1"} and again.state is run.state
    assert again.on_mission_current(s0.after_seq, T0 + 2) == [] and again.tick(T0 + 3) == []
