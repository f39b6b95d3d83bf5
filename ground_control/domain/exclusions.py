"""Vehicles a parcel must not be offered to, with why and until when. Pure: entries are plain
dicts (they live in the parcel's JSON column ``exclusions``) and time is passed in.

A vehicle that refused a parcel for a reason tied to its state (energy, pre-arm, upload, no
answer) may well take it later: such an exclusion expires after a configurable time, or earlier
when the vehicle was off and came back (a battery swap, a restart) or its battery is clearly
fuller than when it refused. A refusal about the parcel itself on that vehicle (too heavy, no
gripper, the route outside its fence, a mission it cannot read) stays, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

Exclusion = dict[str, Any]   # {vehicle_id, reason, at, until (None = permanent), battery_pct}

#: refusal codes that do not change with the vehicle's state (fleet_protocol RejectedEvent.reason)
PERMANENT_REASONS: frozenset[str] = frozenset({"payload", "geofence", "schema"})
#: a battery this many percentage points fuller than at the refusal counts as a fresh one
FRESH_BATTERY_GAIN_PCT = 10.0


@dataclass(frozen=True, slots=True)
class VehicleView:
    """What an exclusion's expiry looks at."""

    online: bool
    online_since: datetime | None = None
    battery_pct: float | None = None


def make_exclusion(vehicle_id: str, reason: str, now: datetime, expiry_s: float,
                   battery_pct: float | None = None) -> Exclusion:
    permanent = reason in PERMANENT_REASONS
    until = None if permanent else (now + timedelta(seconds=expiry_s)).isoformat()
    return {"vehicle_id": vehicle_id, "reason": reason, "at": now.isoformat(), "until": until,
            "battery_pct": battery_pct}


def with_exclusion(entries: Iterable[Exclusion] | None, new: Exclusion) -> list[Exclusion]:
    """``entries`` with ``new`` replacing any earlier exclusion of the same vehicle."""
    return [e for e in entries or [] if e.get("vehicle_id") != new["vehicle_id"]] + [new]


def is_active(e: Exclusion, now: datetime, vehicle: VehicleView | None) -> bool:
    if e.get("until") is None:
        return True
    if datetime.fromisoformat(e["until"]) <= now:
        return False
    if vehicle is None:
        return True
    at = datetime.fromisoformat(e["at"])
    if vehicle.online and vehicle.online_since is not None and vehicle.online_since > at:
        return False   # it was off and came back since it refused: new battery, new state
    before = e.get("battery_pct")
    if before is not None and vehicle.battery_pct is not None \
            and vehicle.battery_pct >= before + FRESH_BATTERY_GAIN_PCT:
        return False
    return True


def prune(entries: Iterable[Exclusion] | None, now: datetime,
          vehicles: Mapping[str, VehicleView]) -> list[Exclusion]:
    """The exclusions still in force."""
    return [e for e in entries or [] if is_active(e, now, vehicles.get(e.get("vehicle_id", "")))]


def describe(e: Exclusion) -> str:
    """``v1 refused (energy) until 2026-12-02T01:00:00+00:00`` or ``... (payload), for good``."""
    tail = f"until {e['until']}" if e.get("until") else "for good"
    return f"{e['vehicle_id']} refused ({e['reason']}) {tail}"
