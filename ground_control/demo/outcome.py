"""How the demo ends (pure): how long to wait for the work asked, and what became of each parcel.

"Lost" means lost: a parcel ground control no longer knows. A parcel still on its way when the
demo gives up is counted as moving, with its state, and the run says it timed out.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

#: measured: 20 parcels on 5 vehicles at speedup 20 take about a minute; these leave room for a
#: loaded machine (start-up and planning, then each vehicle's share of the parcels)
BASE_TIMEOUT_S = 60.0
PER_PARCEL_PER_VEHICLE_S = 20.0
REFERENCE_SPEEDUP = 20.0

MOVING_STATES = ("created", "planned", "dispatched", "in_transit")


def default_timeout_s(parcels: int, vehicles: int, speedup: float) -> float:
    """Seconds to wait before giving up: grows with each vehicle's share of the parcels and
    shrinks as simulated time runs faster."""
    share = math.ceil(parcels / max(1, vehicles))
    return round(BASE_TIMEOUT_S + PER_PARCEL_PER_VEHICLE_S * share * REFERENCE_SPEEDUP / speedup)


def _dt(raw: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None


def delivery_seconds(parcel: Mapping[str, Any]) -> float | None:
    """Wall seconds from creation to delivery (``delivered`` is final: the last update is it)."""
    if parcel.get("state") != "delivered":
        return None
    start, end = _dt(parcel.get("created_at")), _dt(parcel.get("updated_at"))
    return None if start is None or end is None else round((end - start).total_seconds(), 1)


@dataclass
class Outcome:
    """Every expected parcel in exactly one class."""

    delivered: int = 0
    returned: int = 0          # given back to the sender after its attempts
    failed: int = 0            # its last attempt failed; aboard, on the way back to the hub
    moving: dict[str, int] = field(default_factory=dict)   # still being delivered, by state
    lost: list[str] = field(default_factory=list)          # ground control no longer knows them
    delivery_s: dict[str, float] = field(default_factory=dict)

    @property
    def unfinished(self) -> int:
        return sum(self.moving.values()) + self.failed


def classify(expected: Iterable[str], parcels: Iterable[Mapping[str, Any]]) -> Outcome:
    found = {p["id"]: p for p in parcels}
    out = Outcome()
    moving: Counter[str] = Counter()
    for pid in sorted(expected):
        p = found.get(pid)
        state = p.get("state") if p else None
        if p is None:
            out.lost.append(pid)
        elif state == "delivered":
            out.delivered += 1
            secs = delivery_seconds(p)
            if secs is not None:
                out.delivery_s[pid] = secs
        elif state == "returned":
            out.returned += 1
        elif state == "delivery_failed":
            out.failed += 1
        else:
            moving[str(state)] += 1
    out.moving = dict(sorted(moving.items()))
    return out


def _counts(counter: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.items() if v)


def verdict(outcome: Outcome, timed_out: bool, timeout_s: float,
            waiting: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """(success, one sentence for the operator). A failure is a lost parcel, or parcels not
    finished when the demo gave up: those on their way (more time would let them finish) and
    those still waiting to be planned, with the planner's reasons (more time may not help)."""
    problems = []
    if outcome.lost:
        problems.append(f"{len(outcome.lost)} parcel(s) LOST, unknown to ground control: {', '.join(outcome.lost[:10])}")
    if timed_out and outcome.unfinished:
        on_way = {k: v for k, v in outcome.moving.items() if k != "created"}
        on_way["delivery_failed"] = outcome.failed
        n_on_way, n_waiting = sum(on_way.values()), outcome.moving.get("created", 0)
        parts = []
        if n_on_way:
            parts.append(f"{n_on_way} on their way ({_counts(on_way)}): raise --timeout to let them finish")
        if n_waiting:
            reasons = Counter((waiting or {}).values()).most_common()
            why = f" ({_counts(dict(reasons))})" if reasons else ""
            parts.append(f"{n_waiting} still waiting to be planned{why}")
        problems.append(f"timed out after {timeout_s:.0f} s, none lost but {outcome.unfinished} unfinished: "
                        + "; ".join(parts))
    if problems:
        return False, "; ".join(problems)
    return True, f"every parcel accounted for: {outcome.delivered} delivered, {outcome.returned} returned"


def delivery_summary(delivery_s: Mapping[str, float]) -> str:
    if not delivery_s:
        return "no parcel delivered"
    v = sorted(delivery_s.values())
    return (f"delivery time from creation, {len(v)} parcels: min {v[0]:.1f} s, median "
            f"{statistics.median(v):.1f} s, max {v[-1]:.1f} s")
