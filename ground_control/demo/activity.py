"""What a vehicle is doing, in words for its kind, for the demo's live view (pure).

The agent's state names are a drone's (``in_flight``) and the autopilot's mode stays ``AUTO``
after a drone lands, so neither tells a viewer what a robot or an idle vehicle is doing.
Ground control's own record comes first: a vehicle with no active mission is idle whatever its
last telemetry said, and of telemetry and the vehicle's last event the newer one wins, so the
view never shows a state the vehicle has already left (a robot ``awaiting handover`` after its
parcel was delivered).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

#: agent state (or ``at_dropoff`` phase) -> words, per vehicle type
WORDS: dict[str, dict[str, str]] = {
    "robot": {
        "validating": "preparing", "uploading": "preparing", "arming": "preparing", "starting": "setting off",
        "in_flight": "driving", "at_dropoff": "at stop", "awaiting_handover": "awaiting handover",
        "releasing": "at stop", "holding": "holding", "returning": "driving back to hub",
    },
    "drone": {
        "validating": "preparing", "uploading": "preparing", "arming": "preparing", "starting": "taking off",
        "in_flight": "flying", "at_dropoff": "at drop-off", "releasing": "releasing parcel",
        "awaiting_handover": "at drop-off", "holding": "hovering (hold)", "returning": "flying back to hub",
    },
}

#: the agent state a vehicle is in right after sending each event (while its mission is active)
AFTER_EVENT = {"accepted": "starting", "started": "in_flight", "leg_reached": "at_dropoff",
               "delivered": "in_flight", "delivery_failed": "in_flight", "failsafe": "failsafe"}


def _ts(item: Mapping[str, Any] | None) -> datetime | None:
    raw = (item or {}).get("ts")
    if isinstance(raw, datetime):
        return raw
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None


def _agent_state(vehicle_type: str, active_mission_id: str, telemetry: Mapping[str, Any] | None,
                 last_event: Mapping[str, Any] | None) -> str:
    """The newer of telemetry (if about this mission) and the last event about this mission."""
    tel_ok = bool(telemetry) and telemetry.get("mission_id") == active_mission_id  # type: ignore[union-attr]
    ev_ok = bool(last_event) and last_event.get("mission_id") == active_mission_id \
        and last_event.get("kind") in AFTER_EVENT  # type: ignore[union-attr]
    ev_ts, tel_ts = _ts(last_event), _ts(telemetry)
    if ev_ok and (not tel_ok or tel_ts is None or (ev_ts is not None and ev_ts > tel_ts)):
        state = AFTER_EVENT[last_event["kind"]]  # type: ignore[index]
        if state == "at_dropoff" and vehicle_type == "robot":
            return "awaiting_handover"
        return state
    if tel_ok:
        return str(telemetry.get("agent_state") or "starting")  # type: ignore[union-attr]
    return "starting"   # mission sent, nothing heard about it yet


def describe(vehicle_type: str, active_mission_id: str | None, telemetry: Mapping[str, Any] | None,
             last_event: Mapping[str, Any] | None = None, at_hub: bool | None = None) -> str:
    """One short phrase: ``driving``, ``awaiting handover``, ``flying back to hub``, ``idle at hub``..."""
    if not active_mission_id:
        if at_hub:
            return "idle at hub"
        if telemetry and telemetry.get("armed"):
            return "idle (armed)"
        return "idle" if at_hub is None else "idle, away from hub"
    state = _agent_state(vehicle_type, active_mission_id, telemetry, last_event)
    if state == "failsafe":
        return "failsafe"
    return WORDS.get(vehicle_type, WORDS["drone"]).get(state, state.replace("_", " "))
