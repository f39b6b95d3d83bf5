"""Which database rows deserve an operator's attention (pure: rows in, alert drafts out).

Every replica of ground control derives alerts from the same rows; each draft carries a ``key``
that names the one thing it is about (an event id, a vehicle going offline at a given time, a
vehicle's battery on a given mission), so storing it twice is impossible (``alerts.key`` is
unique) and acknowledging it once is enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping


class AlertKind(StrEnum):
    vehicle_offline = "vehicle_offline"
    failsafe = "failsafe"
    geofence_breach = "geofence_breach"
    low_battery = "low_battery"
    delivery_failed = "delivery_failed"
    mission_not_accepted = "mission_not_accepted"


SEVERITY = {
    AlertKind.vehicle_offline: "critical", AlertKind.failsafe: "critical",
    AlertKind.geofence_breach: "critical", AlertKind.low_battery: "warning",
    AlertKind.delivery_failed: "warning", AlertKind.mission_not_accepted: "warning",
}
#: failsafe reasons (edge_agent.failsafe_reason) that mean the vehicle met a fence
FENCE_REASONS = {"fence", "geofence"}


@dataclass(frozen=True)
class AlertDraft:
    key: str
    kind: AlertKind
    message: str
    at: datetime
    vehicle_id: str | None = None
    mission_id: str | None = None
    parcel_id: str | None = None

    @property
    def severity(self) -> str:
        return SEVERITY[self.kind]


@dataclass(frozen=True)
class VehicleView:
    """What the alert rules need of one vehicle at one moment."""

    id: str
    online: bool
    online_changed_at: datetime | None
    battery_pct: float | None
    mission_id: str | None


def from_event(vehicle_id: str, event_id: str, kind: str, ts: datetime, body: Mapping[str, Any]) -> AlertDraft | None:
    """An alert for a stored vehicle event, or None for routine ones."""
    mission, parcel = body.get("mission_id"), body.get("parcel_id")
    reason, detail = str(body.get("reason") or ""), str(body.get("detail") or "")
    why = f"{reason}: {detail}" if detail else reason
    if kind == "failsafe":
        alert_kind = AlertKind.geofence_breach if reason in FENCE_REASONS else AlertKind.failsafe
        return AlertDraft(f"event:{event_id}", alert_kind,
                          f"{vehicle_id} failsafe ({why}), action {body.get('action', '?')}", ts, vehicle_id, mission)
    if kind == "delivery_failed":
        return AlertDraft(f"event:{event_id}", AlertKind.delivery_failed,
                          f"{vehicle_id} could not deliver {parcel} ({why})", ts, vehicle_id, mission, parcel)
    if kind == "rejected":
        alert_kind = AlertKind.geofence_breach if reason in FENCE_REASONS else AlertKind.mission_not_accepted
        return AlertDraft(f"event:{event_id}", alert_kind,
                          f"{vehicle_id} refused mission {mission or '?'} ({why})", ts, vehicle_id, mission)
    return None


def from_mission_end(mission_id: str, vehicle_id: str, state: str, fail_reason: str | None,
                     at: datetime) -> AlertDraft | None:
    """A mission that left the active set: an alert when the vehicle never acknowledged it (the
    dispatcher's "not accepted after N sends"; a refusal comes as a ``rejected`` event instead)."""
    if state == "failed" and (fail_reason or "").startswith("not accepted"):
        return AlertDraft(f"mission:{mission_id}:not_accepted", AlertKind.mission_not_accepted,
                          f"{vehicle_id} never acknowledged mission {mission_id} ({fail_reason})", at,
                          vehicle_id, mission_id)
    return None


def from_vehicle(prev: VehicleView | None, cur: VehicleView, low_battery_pct: float, now: datetime) -> list[AlertDraft]:
    """Alerts for a change seen between two reads of the same vehicle (``prev`` None: first
    read; going offline is only reported when it was seen happening, not for a vehicle that was
    already off when the console started)."""
    out: list[AlertDraft] = []
    if prev is not None and prev.online and not cur.online:
        at = cur.online_changed_at or now
        out.append(AlertDraft(f"offline:{cur.id}:{at.isoformat()}", AlertKind.vehicle_offline,
                              f"{cur.id} went offline (no status or telemetry)", at, cur.id, cur.mission_id))
    low = cur.battery_pct is not None and cur.battery_pct < low_battery_pct
    was_low = prev is not None and prev.battery_pct is not None and prev.battery_pct < low_battery_pct
    if low and (not was_low or (prev is not None and prev.mission_id != cur.mission_id)):
        out.append(AlertDraft(f"low_battery:{cur.id}:{cur.mission_id or f'idle-{now:%Y%m%d}'}", AlertKind.low_battery,
                              f"{cur.id} battery {cur.battery_pct:.0f}% (below {low_battery_pct:.0f}%)",
                              now, cur.id, cur.mission_id))
    return out
