"""How long robots actually wait at a door: from each handover's ``leg_reached`` (the robot is
there) to its ``delivered`` (the recipient typed the code). The ETA of a parcel behind other
robot stops adds one such wait per stop; a fixed guess (30 s) is wrong both for recipients who
are ready and for those who are not, so the fleet's recent handovers correct it. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

#: a wait longer than this is not a wait (the robot drove on, an operator stepped in)
MAX_WAIT_S = 1_800.0


@dataclass(frozen=True, slots=True)
class WaitFigure:
    mean_s: float
    sd_s: float
    samples: int


def waits(events: Iterable[tuple[str, str | None, str | None, datetime]]) -> list[float]:
    """Seconds from arrival to handover per (mission, parcel), from ``(kind, mission_id,
    parcel_id, ts)`` rows of ``leg_reached`` and ``delivered`` events."""
    reached: dict[tuple[str | None, str | None], datetime] = {}
    done: dict[tuple[str | None, str | None], datetime] = {}
    for kind, mission_id, parcel_id, ts in events:
        if parcel_id is None:
            continue
        key = (mission_id, parcel_id)
        if kind == "leg_reached":
            reached[key] = min(ts, reached.get(key, ts))
        elif kind == "delivered":
            done[key] = ts
    out = []
    for key, at in reached.items():
        if key in done:
            w = (done[key] - at).total_seconds()
            if 0 <= w <= MAX_WAIT_S:
                out.append(w)
    return out


def blended(observed: list[float], prior_s: float, prior_sd_s: float, prior_n: float = 3.0) -> WaitFigure:
    """The prior guess weighs as much as ``prior_n`` observed handovers."""
    n = len(observed)
    if n == 0:
        return WaitFigure(prior_s, prior_sd_s, 0)
    mean_obs = sum(observed) / n
    var_obs = sum((w - mean_obs) ** 2 for w in observed) / n
    mean = (prior_n * prior_s + n * mean_obs) / (prior_n + n)
    var = (prior_n * prior_sd_s ** 2 + n * var_obs) / (prior_n + n)
    return WaitFigure(mean, max(5.0, math.sqrt(var)), n)
