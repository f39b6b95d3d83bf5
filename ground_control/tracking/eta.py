"""Live ETA of one parcel from its mission's real progress. Pure: no I/O, no clock.

Model (the time the vehicle will be at this parcel's drop-off, for a drone the release; counted
from when the facts were true: the telemetry sample's time, the reported arrival at a stop, else
``now``; never earlier than ``now``):

* remaining path: the stops of the mission still to serve, in mission order, up to this parcel's
  (stops already delivered or failed are skipped). The leg the vehicle is on is measured from its
  latest position projected onto the leg's polyline (previous stop or hub, the leg's waypoints,
  the stop), the later legs in full, all by great-circle distance (as the planner's legs);
* speed: the vehicle's observed speed while travelling (smoothed, ``speed.SpeedTracker``),
  blended with the nominal cruise speed by the number of samples (a handful of noisy samples does
  not yet outweigh the nominal figure), kept within [0.3, 2] x nominal;
* service times: a drone not yet in the air arms and climbs to cruise altitude first; at every stop before
  this one it descends, holds and releases, and climbs back; at this one it descends and releases
  (ArduCopter's default climb 2.5 m/s and descent 1.5 m/s, the agent's hold before release). A
  robot waits at each earlier stop for its handover (``handover_wait_s``: the service passes the
  figure learnt from recent handovers, ``handover_wait``);
* uncertainty: a ~90 % band (+-1.645 sigma) from the speed's spread (at least 10 %; 25 % on the
  nominal speed alone) over the travel time and each earlier stop's service spread (a drone's
  release is regular, a robot's handover wait is not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Sequence

from ground_control.planning.geometry import EARTH_RADIUS_M, haversine_m
from ground_control.planning.model import Point

Z90 = 1.645          # two-sided 90 % of a normal distribution
MIN_REL_SD = 0.10    # travel time spread never below this share (wind, traffic, waypoint turns)
NOMINAL_REL_SD = 0.25  # spread when the speed is the nominal figure alone
PRIOR_SAMPLES = 5.0  # nominal speed weighs as much as this many observed samples
M_PER_DEG = math.radians(1) * EARTH_RADIUS_M


@dataclass(frozen=True, slots=True)
class ServiceTimes:
    """Time spent beside level travel (defaults: ArduCopter WPNAV_SPEED_UP/DN, the edge agent's
    DROP_HOLD_S plus positioning; a robot's handover wait as the planner's service time)."""

    climb_mps: float = 2.5
    #: drone at the hub: arming, mode change and spool-up before the climb starts (the drone
    #: ETAs at dispatch came out 11-13 s early without it in benchmarks/eta_accuracy.py)
    departure_s: float = 10.0
    descent_mps: float = 1.5
    release_s: float = 5.0          # drone: positioning and hold over the drop-off, release
    handover_wait_s: float = 30.0   # robot: the recipient comes to the door and types the code
    release_sd_s: float = 5.0
    handover_sd_s: float = 60.0


@dataclass(frozen=True, slots=True)
class MissionStop:
    parcel_id: str
    position: Point
    path: tuple[Point, ...] = ()    # the leg's intermediate waypoints (ends excluded)


@dataclass(frozen=True, slots=True)
class ObservedSpeed:
    mean_mps: float
    sd_mps: float
    samples: int


@dataclass(frozen=True, slots=True)
class EtaInput:
    now: datetime
    drone: bool
    nominal_speed_mps: float
    hub: Point
    stops: tuple[MissionStop, ...]          # the whole mission, in order
    target: str                             # this parcel's id
    done: frozenset[str] = frozenset()      # parcels of the mission already delivered or failed
    airborne: bool = False                  # the mission started (the vehicle left the hub)
    position: Point | None = None           # latest telemetry position (None: at the hub)
    position_at: datetime | None = None     # that sample's time (the estimate counts from it)
    altitude_m: float | None = None         # that sample's altitude above home (drones)
    at_stop: str | None = None              # the stop the vehicle reported reaching last
    reached_at: datetime | None = None      # when it reported reaching it
    cruise_alt_m: float = 40.0
    drop_alt_m: float = 5.0
    observed: ObservedSpeed | None = None
    service: ServiceTimes = field(default_factory=ServiceTimes)


@dataclass(frozen=True, slots=True)
class EtaEstimate:
    """``eta`` +- band: ``low``..``high`` is about a 90 % interval. ``basis``: which speed
    (``observed`` or ``nominal``) and where from (``at_hub``, ``en_route``, ``at_stop``)."""

    eta: datetime
    seconds: float
    low: datetime
    high: datetime
    basis: str
    speed_mps: float
    remaining_m: float
    stops_before: int
    as_of: datetime | None = None   # when the facts it rests on were true (telemetry time, arrival, now)

    def as_dict(self) -> dict[str, object]:
        return {"eta": self.eta.isoformat(), "seconds": round(self.seconds, 1), "low": self.low.isoformat(),
                "high": self.high.isoformat(), "basis": self.basis, "speed_mps": round(self.speed_mps, 2),
                "remaining_m": round(self.remaining_m, 1), "stops_before": self.stops_before,
                "as_of": self.as_of.isoformat() if self.as_of else None}


def path_length_m(points: Sequence[Point]) -> float:
    return sum(haversine_m(a, b) for a, b in zip(points, points[1:]))


def remaining_on_leg_m(leg: Sequence[Point], pos: Point) -> float:
    """Metres still to go along ``leg`` from ``pos``: projected onto the nearest segment (local
    flat projection per segment, exact enough over a leg's few km)."""
    if len(leg) < 2:
        return haversine_m(pos, leg[-1]) if leg else 0.0
    best: tuple[float, float] | None = None     # (off-track distance, metres to go)
    tail = [0.0] * len(leg)
    for i in range(len(leg) - 2, -1, -1):
        tail[i] = tail[i + 1] + haversine_m(leg[i], leg[i + 1])
    for i, (a, b) in enumerate(zip(leg, leg[1:])):
        ky = M_PER_DEG                          # the sphere haversine_m measures on
        kx = math.cos(math.radians(a.lat)) * ky
        bx, by = (b.lon - a.lon) * kx, (b.lat - a.lat) * ky
        px, py = (pos.lon - a.lon) * kx, (pos.lat - a.lat) * ky
        seg2 = bx * bx + by * by
        t = 0.0 if seg2 == 0 else min(1.0, max(0.0, (px * bx + py * by) / seg2))
        off = math.hypot(px - t * bx, py - t * by)
        to_go = (1 - t) * (tail[i] - tail[i + 1]) + tail[i + 1]
        if best is None or off < best[0]:
            best = (off, to_go + off)   # off track: it has to get back to the line first
    assert best is not None
    return best[1]


def effective_speed(nominal: float, observed: ObservedSpeed | None) -> tuple[float, float, str]:
    """(speed, relative spread, basis): observed blended with nominal by sample count."""
    if observed is None or observed.samples <= 0 or observed.mean_mps <= 0:
        return nominal, NOMINAL_REL_SD, "nominal"
    w = observed.samples / (observed.samples + PRIOR_SAMPLES)
    v = w * observed.mean_mps + (1 - w) * nominal
    v = min(max(v, 0.3 * nominal), 2.0 * nominal)
    rel = max(MIN_REL_SD, observed.sd_mps / v if v > 0 else NOMINAL_REL_SD)
    rel = w * rel + (1 - w) * NOMINAL_REL_SD
    return v, rel, "observed"


def estimate(inp: EtaInput) -> EtaEstimate | None:
    """The ETA of ``inp.target``, or None when it is not (or no longer) on the mission's way."""
    ids = [s.parcel_id for s in inp.stops]
    if inp.target not in ids or inp.target in inp.done or inp.nominal_speed_mps <= 0:
        return None
    k = ids.index(inp.target)
    svc = inp.service
    dive = max(0.0, inp.cruise_alt_m - inp.drop_alt_m)
    arrive_s = (dive / svc.descent_mps + svc.release_s) if inp.drone else 0.0
    leave_s = dive / svc.climb_mps if inp.drone else 0.0
    per_stop_s = arrive_s + leave_s + (0.0 if inp.drone else svc.handover_wait_s)
    per_stop_sd = svc.release_sd_s if inp.drone else svc.handover_sd_s

    travel_m = 0.0
    fixed_s = 0.0
    before = 0
    prev = inp.hub
    located = inp.airborne and inp.position is not None
    where = "en_route" if located else "at_hub"
    # the estimate holds from the moment its facts were true: the position's sample time (a few
    # seconds old by the time it is read), the arrival at the stop, or now
    origin = (inp.position_at or inp.now) if located else inp.now
    if not located and inp.drone:
        fixed_s += svc.departure_s + inp.cruise_alt_m / svc.climb_mps      # arming, take-off climb
    position_used = False
    for stop in inp.stops[:k + 1]:
        leg = (prev, *stop.path, stop.position)
        prev = stop.position
        if stop.parcel_id in inp.done:
            continue
        serving = False
        if located and not position_used:
            position_used = True
            if inp.at_stop == stop.parcel_id:
                serving, where = True, "at_stop"
                if inp.reached_at is not None:          # its service counts from the arrival
                    origin = inp.reached_at
            else:
                travel_m += remaining_on_leg_m(leg, inp.position)   # type: ignore[arg-type]
        else:
            travel_m += path_length_m(leg)
        # there already with no arrival time: half its service left, on average
        part = 0.5 if serving and inp.reached_at is None else 1.0
        if stop.parcel_id == inp.target:
            fixed_s += arrive_s * part
        else:
            fixed_s += per_stop_s * part
            before += 1
    if located and where == "en_route" and inp.drone and inp.altitude_m is not None:
        # still climbing (just took off, or just left a drop-off): the rest of the climb
        fixed_s += max(0.0, inp.cruise_alt_m - inp.altitude_m) / svc.climb_mps
    v, rel, speed_basis = effective_speed(inp.nominal_speed_mps, inp.observed)
    travel_s = travel_m / v
    total = travel_s + fixed_s
    sd = math.sqrt((rel * travel_s) ** 2 + before * per_stop_sd ** 2 + (0.1 * fixed_s) ** 2)
    now = inp.now
    origin = min(origin, now)                               # a vehicle clock ahead of ours
    eta = max(now, origin + timedelta(seconds=total))      # overdue: expected any moment now
    low = max(now, eta - timedelta(seconds=Z90 * sd))
    high = eta + timedelta(seconds=Z90 * sd)
    return EtaEstimate(eta=eta, seconds=(eta - now).total_seconds(), low=low, high=high,
                       basis=f"{speed_basis}_speed,{where}", speed_mps=v, remaining_m=travel_m,
                       stops_before=before, as_of=origin)
