"""A vehicle's observed travel speed, smoothed: an exponentially weighted mean and variance of
its telemetry ground speed while it travels (samples under ``moving_mps`` are hover, descent or
a handover wait: service time, not travel speed). Pure and in memory: fed with each new sample
(``ground_control.tracking.service`` feeds it from the latest telemetry when an ETA is read, so
the figure follows telemetry as it arrives); a new mission starts it afresh."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ground_control.tracking.eta import ObservedSpeed


@dataclass
class _State:
    mission_id: str | None
    last_ts: datetime
    mean: float = 0.0
    var: float = 0.0
    n: int = 0


class SpeedTracker:
    def __init__(self, alpha: float = 0.2, moving_mps: float = 0.5, max_vehicles: int = 10_000) -> None:
        self.alpha = alpha
        self.moving_mps = moving_mps
        self.max_vehicles = max_vehicles
        self._s: dict[str, _State] = {}

    def add(self, vehicle_id: str, mission_id: str | None, ts: datetime, speed_mps: float) -> None:
        """One telemetry sample; an old or repeated one (same ``ts``) is ignored."""
        st = self._s.get(vehicle_id)
        if st is None or st.mission_id != mission_id:
            if len(self._s) >= self.max_vehicles and vehicle_id not in self._s:
                self._s.pop(next(iter(self._s)))
            st = self._s[vehicle_id] = _State(mission_id=mission_id, last_ts=ts)
        elif ts <= st.last_ts:
            return
        st.last_ts = ts
        if speed_mps < self.moving_mps:
            return
        if st.n == 0:
            st.mean, st.var = speed_mps, 0.0
        else:
            d = speed_mps - st.mean
            st.mean += self.alpha * d
            st.var = (1 - self.alpha) * (st.var + self.alpha * d * d)
        st.n += 1

    def observed(self, vehicle_id: str, mission_id: str | None) -> ObservedSpeed | None:
        st = self._s.get(vehicle_id)
        if st is None or st.mission_id != mission_id or st.n == 0:
            return None
        return ObservedSpeed(mean_mps=st.mean, sd_mps=st.var ** 0.5, samples=st.n)


#: this process's tracker: ingest feeds every telemetry sample, ETAs read it
SPEEDS = SpeedTracker()
