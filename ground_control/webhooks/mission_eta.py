"""The ETA that exists on this branch: the mission's remaining legs at the vehicle's cruise
speed from where its telemetry last put it, plus a fixed service time per stop on the way.
The tracking package's ``current_eta`` replaces it at merge (see ``eta_watch.default_source``)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from ground_control.webhooks.eta_rules import EtaEstimate

EARTH_M = 6_371_000.0


def _dist(a: tuple[float, float], b: tuple[float, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(min(1.0, h)))


def estimate(payload: dict[str, Any], parcel_id: str, done: set[str], position: tuple[float, float] | None,
             now: datetime, service_s: float = 60.0) -> EtaEstimate | None:
    """Pure: ETA of ``parcel_id`` on the mission ``payload`` (a fleet_protocol Mission as JSON)
    given the stops already ``done`` and the vehicle's ``position`` (None: still at the hub)."""
    stops = payload.get("stops") or []
    ids = [s["parcel_id"] for s in stops]
    if parcel_id not in ids or parcel_id in done:
        return None
    hub = payload["hub"]["position"]
    here = position or (hub["lat"], hub["lon"])
    speed = float(payload.get("cruise_speed_mps") or 10.0)
    metres, services = 0.0, 0
    for s in stops:
        if s["parcel_id"] in done:
            continue
        points = [(p["lat"], p["lon"]) for p in s.get("path") or []] + [(s["drop_off"]["lat"], s["drop_off"]["lon"])]
        for p in points:
            metres += _dist(here, p)
            here = p
        if s["parcel_id"] == parcel_id:
            break
        services += 1
    seconds = metres / speed + services * service_s
    return EtaEstimate(eta=now + timedelta(seconds=seconds), seconds=seconds)
