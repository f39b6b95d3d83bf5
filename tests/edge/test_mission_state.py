from fleet_protocol import Command
from edge_agent.mission_state import Disarm, Emit, MissionRun, SetMode, State
from edge_agent.release_evidence import EVIDENCE_WINDOW_S, ReleaseOutput
from edge_factories import make_mission

T0 = 1_700_000_000.0
#: two plain release servos (SERVO10, SERVO11): one parcel each
SERVOS = (ReleaseOutput(10, 1100, 1900, gripper=False), ReleaseOutput(11, 1100, 1900, gripper=False))
GRIPPER = (ReleaseOutput(9, 1100, 1900, gripper=True),)


def pwm(**channels: int) -> list[int]:
    """SERVO_OUTPUT_RAW servo1..16 with e.g. ch9=1900."""
    out = [0] * 16
    for k, v in channels.items():
        out[int(k[2:]) - 1] = v
    return out


def kinds(actions):
    return [a.body.kind for a in actions if isinstance(a, Emit)]


def modes(actions):
    return [a.mode for a in actions if isinstance(a, SetMode)]


def flying(kind="drone", outputs=SERVOS, **kw):
    run = MissionRun(make_mission(kind=kind, **kw))
    if kind == "drone":
        run.set_release_outputs(outputs)
    assert kinds(run.accept()) == ["accepted"]
    assert kinds(run.started(T0)) == ["started"]
    run.on_heartbeat("AUTO", True, T0)
    run.on_position(52.37, 4.89, 0.0)
    return run


def test_copter_two_drops_and_return():
    run = flying()
    tm = run.tm
    assert [tm.items[s.release_seq].command for s in tm.stops] == [183, 183]  # DO_SET_SERVO per parcel
    assert [tm.items[s.release_seq].param1 for s in tm.stops] == [10, 11]
    ev = []
    held = pwm(ch10=1900, ch11=1900)
    run.on_servo_output(held, T0)
    for i, stop in enumerate(tm.stops):
        ev += run.on_mission_current(stop.arrival_seq, T0 + 1)
        ev += run.on_item_reached(stop.arrival_seq, T0 + 2)
        assert run.state is State.at_dropoff and run.state_label == "releasing"
        run.on_position(52.371, 4.89, 5.0)
        ev += run.on_item_reached(stop.drop_seq, T0 + 3)
        ev += run.on_servo_output(held, T0 + 3.1)
        assert "delivered" not in kinds(ev[-1:])
        held = list(held)
        held[9 + i] = 1100  # this stop's servo opens: the evidence, before MISSION_CURRENT moves on
        ev += run.on_servo_output(held, T0 + 3.2)
        ev += run.on_mission_current(stop.after_seq, T0 + 3.3)
    assert kinds(ev) == ["leg_reached", "delivered", "leg_reached", "delivered"]
    d = ev[1].body
    assert d.parcel_id == "p1" and d.proof.confirmed and d.proof.method == "release" and d.proof.position.alt_m == 5.0
    assert d.proof.delivered_at.timestamp() == T0 + 3.2 and d.proof.observed
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
    run.on_servo_output(pwm(ch10=1900), T0)
    ev = run.on_mission_current(s0.after_seq + 1, T0)
    ev += run.on_servo_output(pwm(ch10=1100), T0 + 0.5)
    assert kinds(ev) == ["leg_reached", "delivered"] and ev[1].body.proof.confirmed
    ev = run.on_item_reached(s0.arrival_seq, T0 + 2) + run.on_mission_current(s0.after_seq + 1, T0 + 2)
    assert ev == []  # idempotent


def test_gripper_that_never_moves_is_not_a_confirmed_release():
    """GRIP_* set at run time without a reboot: the mission says "Gripper Released", the servo
    stays where it was. Unconfirmed, with the reason in the proof."""
    run = flying(outputs=GRIPPER, stops_m=((120, 0),))
    s0 = run.tm.stops[0]
    assert run.tm.items[s0.release_seq].command == 211
    run.on_servo_output(pwm(ch9=1500), T0)
    run.on_item_reached(s0.arrival_seq, T0)
    run.on_item_reached(s0.drop_seq, T0 + 1)
    ev = run.on_statustext("Gripper Released", T0 + 1.1) + run.on_mission_current(s0.after_seq, T0 + 1.1)
    ev += run.on_servo_output(pwm(ch9=1500), T0 + 2) + run.tick(T0 + 1.1 + EVIDENCE_WINDOW_S - 0.1)
    assert ev == []  # still waiting for evidence
    ev = run.tick(T0 + 1.1 + EVIDENCE_WINDOW_S)
    assert kinds(ev) == ["delivered"]
    proof = ev[0].body.proof
    assert proof.confirmed is False and "SERVO9 stayed at PWM 1500" in proof.reason and "reboot" in proof.reason


def test_already_open_gripper_is_not_evidence_but_releasing_text_is():
    """One gripper, two stops (what the agent now refuses up front): the second release finds it
    open, ArduPilot says "Gripper load released" at once and the PWM does not change."""
    run = flying(outputs=GRIPPER)
    s0, s1 = run.tm.stops
    run.on_servo_output(pwm(ch9=1900), T0)
    run.on_mission_current(s0.drop_seq, T0)
    ev = run.on_statustext("Gripper load releasing", T0 + 1) + run.on_mission_current(s0.after_seq, T0 + 1)
    assert kinds(ev) == ["delivered"] and ev[0].body.proof.confirmed
    run.on_servo_output(pwm(ch9=1100), T0 + 1.5)
    run.on_mission_current(s1.drop_seq, T0 + 5)
    ev = run.on_statustext("Gripper load released", T0 + 6) + run.on_mission_current(s1.after_seq, T0 + 6)
    ev += run.on_servo_output(pwm(ch9=1100), T0 + 7) + run.tick(T0 + 6 + EVIDENCE_WINDOW_S)
    assert kinds(ev) == ["delivered"]
    proof = ev[0].body.proof
    assert proof.confirmed is False and "already open" in proof.reason


def test_drone_landing_away_from_the_hub_is_not_a_return():
    run = flying()
    run.on_position(52.372, 4.89, 38.0)  # ~220 m north of the hub
    run.on_heartbeat("LAND", True, T0 + 1)
    run.tick(T0 + 5)
    run.on_position(52.372, 4.89, 0.0)
    ev = run.on_heartbeat("LAND", False, T0 + 60)
    assert kinds(ev) == ["failsafe"]
    f = ev[0].body
    assert f.reason == "landed_away" and f.aboard == ["p1", "p2"] and f.position.lat == 52.372
    assert "222 m from the hub" in f.detail
    assert run.state is State.failed


def test_do_change_speed_reached_means_nothing():
    """ArduPilot 4.7 sends MISSION_ITEM_REACHED for DO_CHANGE_SPEED too."""
    run = flying()
    speed_seq = next(it.seq for it in run.tm.items if it.command == 178)
    assert run.on_item_reached(speed_seq, T0 + 1) == [] and run.state is State.in_flight


def test_failsafe_rtl_reports_remaining_undelivered():
    run = flying()
    run.on_statustext("Battery 1 is low 10.1V", T0)
    assert run.on_heartbeat("RTL", True, T0 + 1) == []  # its explanation may still be on the way
    assert run.state is State.returning
    assert run.tick(T0 + 2.9) == []
    ev = run.tick(T0 + 3.0)
    assert kinds(ev) == ["failsafe"] and ev[0].body.reason == "battery" and ev[0].body.action == "rtl"
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
    assert modes(a) == ["BRAKE"] and run.state is State.holding  # LOITER would sink without a pilot
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
    run.tick(T0 + EVIDENCE_WINDOW_S)  # no servo evidence: delivered unconfirmed
    snap = run.snapshot()
    import json
    again = MissionRun.restore(json.loads(json.dumps(snap)))
    assert again.delivered == {"p1"} and again.state is run.state and again.release_outputs == SERVOS
    assert again.on_mission_current(s0.after_seq, T0 + 2) == [] and again.tick(T0 + 3) == []


def test_restart_after_a_release_reports_it_unobserved():
    """Killed mid-descent, restarted after the release ran: no invented position or time."""
    run = flying()
    s0 = run.tm.stops[0]
    run.on_mission_current(s0.arrival_seq, T0)
    run.on_position(52.371, 4.89, 20.0)  # descending
    run.on_mission_current(s0.drop_seq, T0 + 1)
    import json
    again = MissionRun.restore(json.loads(json.dumps(run.snapshot())))
    again.on_position(52.3712, 4.8902, 40.0)  # climbed back, 21 s later
    ev = again.on_mission_current(s0.after_seq + 1, T0 + 22)
    assert kinds(ev) == ["delivered"]
    proof = ev[0].body.proof
    assert proof.observed is False and proof.confirmed is False
    assert proof.position is None and proof.delivered_at is None and proof.distance_m is None
    assert "restarted" in proof.reason
    assert again.state is State.in_flight and again.leg == 1  # on to the next leg


def test_release_during_a_mavlink_gap_is_unobserved():
    """The link dropped while the drone released: after the reconnect the release item is past
    and the servo is open, but nobody saw it happen, where, or when."""
    run = flying()
    s0 = run.tm.stops[0]
    run.on_servo_output(pwm(ch10=1900), T0)
    run.on_mission_current(s0.drop_seq, T0)
    run.on_link_gap()
    ev = run.on_servo_output(pwm(ch10=1100), T0 + 10) + run.on_mission_current(s0.after_seq + 1, T0 + 10)
    assert kinds(ev) == ["delivered"]
    assert ev[0].body.proof.observed is False and ev[0].body.proof.position is None


def _restored_rover_past_stop_0():
    """A rover driving to stop 0 when its agent was killed; AUTO drove on meanwhile (nobody held
    it at the stop), and the agent comes back with the autopilot on the leg to stop 1."""
    import json
    run = flying(kind="robot")
    s0, s1 = run.tm.stops[0], run.tm.stops[1]
    run.on_mission_current(s0.arrival_seq, T0)
    again = MissionRun.restore(json.loads(json.dumps(run.snapshot())))
    return again, s0, s1


def test_restarted_rover_that_drove_past_a_handover_stop_reports_it_missed():
    """Seen in the fault drill: after an agent kill -9 the rover had passed stop 0; the restored
    agent caught up with leg_reached at its current position (494 m off), waited for the handover
    there and reported a proof ground control had to refuse. The parcel is still aboard: say so."""
    again, s0, s1 = _restored_rover_past_stop_0()
    assert again.on_mission_current(s1.arrival_seq, T0 + 30) == []   # no fresh position yet: judge nothing
    stop1 = again.mission.stops[1].drop_off
    again.on_position(stop1.lat - 0.001, stop1.lon, 0.0)              # on the way to stop 1, far from stop 0
    ev = again.on_mission_current(s1.arrival_seq, T0 + 31)
    assert kinds(ev) == ["delivery_failed"]
    assert ev[0].body.parcel_id == again.mission.stops[0].parcel_id and ev[0].body.reason == "handover_missed"
    assert again.state is State.in_flight and again.phase != "awaiting_handover"
    assert again.mission.stops[0].parcel_id in again.undelivered     # comes back listed in `returned`


def test_restarted_rover_still_at_its_stop_waits_for_the_handover():
    again, s0, s1 = _restored_rover_past_stop_0()
    stop0 = again.mission.stops[0].drop_off
    again.on_position(stop0.lat, stop0.lon, 0.0)                      # AUTO had only just reached it
    ev = again.on_mission_current(s0.arrival_seq + 1, T0 + 5)
    assert kinds(ev) == ["leg_reached"]
    assert again.state is State.at_dropoff and again.phase == "awaiting_handover"
