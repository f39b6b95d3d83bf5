"""When an ETA is worth telling subscribers (pure). Changes are measured against the ETA last
*announced*, not the last observed, so an ETA drifting by small steps still triggers once it
has moved far enough, and one jittering around a value never does; ``min_interval_s`` spaces
announcements; "arriving soon" is said once per parcel and trip."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class EtaEstimate:
    """The shape tracking's ``current_eta`` returns: when, in how long, and its spread."""

    eta: datetime
    seconds: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class Mark:
    """What was last announced for a parcel on one mission."""

    mission_id: str
    notified_eta: datetime
    notified_at: datetime
    arriving_sent: bool


@dataclass(frozen=True, slots=True)
class EtaRules:
    change_threshold_s: float
    arriving_soon_s: float
    min_interval_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    eta_changed: bool
    arriving_soon: bool
    mark: Mark


def decide(mark: Mark | None, mission_id: str, est: EtaEstimate, now: datetime, rules: EtaRules) -> Decision:
    """The events to raise for this ETA and the mark to keep. The first ETA of a trip is the
    baseline (no eta_changed: the dispatched event already told the receiver)."""
    arriving = est.seconds <= rules.arriving_soon_s
    if mark is None or mark.mission_id != mission_id:
        new = Mark(mission_id, est.eta, now, arriving)
        return Decision(False, arriving, new)
    send_arriving = arriving and not mark.arriving_sent
    moved = abs((est.eta - mark.notified_eta).total_seconds())
    changed = moved > rules.change_threshold_s and (now - mark.notified_at).total_seconds() >= rules.min_interval_s
    new = Mark(mission_id, est.eta if changed else mark.notified_eta, now if changed else mark.notified_at,
               mark.arriving_sent or send_arriving)
    return Decision(changed, send_arriving, new)
