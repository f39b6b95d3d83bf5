"""Why a parcel is still waiting to be planned: the one place the demo reads it from, so that
switching to the reason stored on the parcel (``waiting_reason``) is a one-line change."""

from __future__ import annotations

from typing import Any, Mapping

NOT_PLANNED_YET = "not planned yet"


def planner_reasons(app: Any) -> Mapping[str, str]:
    """The dispatcher's in-memory reasons (parcel id -> e.g. ``too_heavy``) of an app running
    in this process; empty when it runs without MQTT."""
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    dispatcher = getattr(runtime, "dispatcher", None)
    return dict(getattr(dispatcher, "unplanned", {}) or {})


def waiting_reason(parcel: Mapping[str, Any], reasons: Mapping[str, str]) -> str:
    """A stored ``waiting_reason`` on the parcel wins; else the planner's last word on it."""
    return str(parcel.get("waiting_reason") or reasons.get(parcel["id"]) or NOT_PLANNED_YET)
