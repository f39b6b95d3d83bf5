"""The demo's live view shows what each vehicle is doing in words for its kind, idle vehicles as
idle, never a state the vehicle has already left, and the parcels left waiting with the reason."""

from __future__ import annotations

from collections import Counter

from rich.console import Console

from ground_control.demo.activity import describe
from ground_control.demo.display import render
from ground_control.demo.runner import Snapshot
from ground_control.demo.waiting import NOT_PLANNED_YET, waiting_reason


def _tel(state: str, mission: str | None = "m-1", ts: str = "2026-12-01T10:00:10Z", **kw) -> dict:
    return {"agent_state": state, "mission_id": mission, "ts": ts, "mode": "AUTO", "armed": True,
            "battery_pct": 80.0, "alt_m": 0.0, **kw}


def _ev(kind: str, ts: str, mission: str = "m-1") -> dict:
    return {"kind": kind, "mission_id": mission, "ts": ts, "vehicle_id": "robot-1"}


def test_robot_states_in_robot_words():
    assert describe("robot", "m-1", _tel("in_flight")) == "driving"
    assert describe("robot", "m-1", _tel("awaiting_handover")) == "awaiting handover"
    assert describe("robot", "m-1", _tel("returning")) == "driving back to hub"
    assert describe("drone", "m-1", _tel("in_flight")) == "flying"
    assert describe("drone", "m-1", _tel("releasing")) == "releasing parcel"


def test_a_newer_event_beats_stale_telemetry():
    # telemetry (1 Hz) still says awaiting handover, but the parcel was delivered since
    stale = _tel("awaiting_handover", ts="2026-12-01T10:00:10Z")
    assert describe("robot", "m-1", stale, _ev("delivered", "2026-12-01T10:00:11Z")) == "driving"
    # and the other way round: telemetry newer than the event wins
    assert describe("robot", "m-1", stale, _ev("leg_reached", "2026-12-01T10:00:05Z")) == "awaiting handover"
    assert describe("robot", "m-1", None, _ev("leg_reached", "2026-12-01T10:00:05Z")) == "awaiting handover"
    # an event about another mission says nothing about this one
    assert describe("robot", "m-1", _tel("in_flight"), _ev("leg_reached", "2026-12-01T10:00:59Z", "m-0")) == "driving"


def test_vehicle_without_an_active_mission_is_idle_whatever_its_last_telemetry_said():
    last_words = _tel("awaiting_handover", armed=False)
    assert describe("robot", None, last_words, at_hub=True) == "idle at hub"
    assert describe("drone", None, _tel("idle", mission=None, armed=False), at_hub=True) == "idle at hub"
    assert describe("drone", None, None) == "idle"


def test_waiting_reason_is_the_stored_one_else_not_planned_yet():
    assert waiting_reason({"id": "p", "waiting_reason": "no_vehicle"}) == "no_vehicle"
    assert waiting_reason({"id": "p"}) == NOT_PLANNED_YET


def _text(snapshot: Snapshot) -> str:
    console = Console(record=True, width=220)
    console.print(render(snapshot))
    return console.export_text()


def test_view_shows_activity_not_agent_states_nor_an_idle_drones_auto_mode():
    vehicles = [
        {"id": "robot-1", "type": "robot", "online": True, "active_mission_id": "m-1",
         "telemetry": _tel("in_flight"), "activity": "driving"},
        {"id": "drone-1", "type": "drone", "online": True, "active_mission_id": None,
         "telemetry": _tel("idle", mission=None, armed=False), "activity": "idle at hub"},
    ]
    text = _text(Snapshot(12.0, Counter({"created": 1, "delivered": 3}), vehicles, "http://x", "mosquitto",
                          waiting={"parcel-007": "too_heavy"}, final=True))
    robot_row = next(line for line in text.splitlines() if "robot-1" in line)
    drone_row = next(line for line in text.splitlines() if "drone-1" in line)
    assert "driving" in robot_row and "in_flight" not in robot_row
    assert "idle at hub" in drone_row and "AUTO" not in drone_row
    assert "parcel-007" in text and "too_heavy" in text and "finished" in text
