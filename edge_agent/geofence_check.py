"""Pre-flight validation of a mission against its geofence and the vehicle (pure, shapely).

Geometry is done in a local tangent plane (metres, equirectangular around the hub): accurate to a
fraction of a metre over the few kilometres a last-mile mission spans, which is "geodesic enough"
for a go/no-go check; the autopilot's own fence is the real-time guard.

Rules:

* every waypoint and every leg segment (hub -> path -> stop -> ... -> return path -> hub) lies
  inside the inclusion polygon (its boundary counts as inside);
* no waypoint or segment enters the interior of an exclusion polygon (touching or running along
  its boundary from outside is allowed);
* polygons must be valid (simple: no self-intersection);
* payload within the vehicle's limit; no more release stops than the drone has release outputs
  (one gripper carries one parcel: once open it stays open); estimated energy within the usable battery;
* the mission is not expired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from shapely.geometry import LineString, Point
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.validation import explain_validity

from fleet_protocol.geo import LatLon, Polygon
from fleet_protocol.mission import Mission, VehicleType

EARTH_RADIUS_M = 6_371_008.8

#: drones: one metre of climb costs as much energy as this many metres of level flight
CLIMB_EQUIVALENT_M = 5.0
#: drones: vertical speed used to estimate hover time during take-off, descents, climbs, landing
VERTICAL_SPEED_MPS = 1.5
#: drones: extra hover per stop (positioning over the drop-off and the release)
HOVER_PER_STOP_S = 20.0

CODES = ("geofence", "payload", "energy", "expired", "schema")


@dataclass(frozen=True)
class Violation:
    code: str       # one of CODES
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def haversine_m(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class LocalProjection:
    """lat/lon <-> metres east/north of an origin (equirectangular)."""

    def __init__(self, origin: LatLon) -> None:
        self.lat0, self.lon0 = origin.lat, origin.lon
        self.kx = math.radians(1) * EARTH_RADIUS_M * math.cos(math.radians(origin.lat))
        self.ky = math.radians(1) * EARTH_RADIUS_M

    def xy(self, p: LatLon) -> tuple[float, float]:
        return ((p.lon - self.lon0) * self.kx, (p.lat - self.lat0) * self.ky)

    def polygon(self, poly: Polygon) -> ShapelyPolygon:
        return ShapelyPolygon([self.xy(v) for v in poly.vertices])


def route_points(mission: Mission) -> list[tuple[str, LatLon]]:
    """The whole route as labelled points: hub, each leg's path and stop, return path, hub."""
    pts: list[tuple[str, LatLon]] = [("hub", mission.hub.position)]
    for i, stop in enumerate(mission.stops):
        pts += [(f"leg {i} waypoint {j}", p) for j, p in enumerate(stop.path)]
        pts.append((f"drop-off of parcel {stop.parcel_id}", stop.drop_off))
    pts += [(f"return waypoint {j}", p) for j, p in enumerate(mission.return_path)]
    pts.append(("hub", mission.hub.position))
    return pts


def route_length_m(mission: Mission) -> float:
    pts = [p for _, p in route_points(mission)]
    return sum(haversine_m(a.lat, a.lon, b.lat, b.lon) for a, b in zip(pts, pts[1:]))


def estimate_energy_wh(mission: Mission, wh_per_km: float) -> float:
    """Level travel at ``wh_per_km``; drones add climbs (take-off, each drop-off's descent and
    climb back, landing) and hover time, priced at the level-flight power."""
    length = route_length_m(mission)
    energy = length / 1000 * wh_per_km
    if mission.vehicle_type is VehicleType.drone:
        n = len(mission.stops)
        dive = max(0.0, mission.cruise_alt_m - mission.drop_alt_m)
        climb_m = mission.cruise_alt_m + n * dive          # what has to be climbed
        vertical_m = 2 * mission.cruise_alt_m + 2 * n * dive  # up and down, for hover time
        energy += climb_m * CLIMB_EQUIVALENT_M / 1000 * wh_per_km
        power_w = wh_per_km * mission.cruise_speed_mps * 3.6  # Wh/km * km/h = W
        hover_s = vertical_m / VERTICAL_SPEED_MPS + n * HOVER_PER_STOP_S
        energy += power_w * hover_s / 3600
    return energy


def _fmt(p: LatLon) -> str:
    return f"({p.lat:.6f}, {p.lon:.6f})"


def _check_geometry(mission: Mission) -> list[Violation]:
    out: list[Violation] = []
    proj = LocalProjection(mission.hub.position)
    fence = mission.geofence
    inclusion = proj.polygon(fence.inclusion)
    if not inclusion.is_valid:
        out.append(Violation("geofence", f"inclusion polygon is invalid: {explain_validity(inclusion)}"))
    exclusions: list[tuple[int, ShapelyPolygon]] = []
    for i, ex in enumerate(fence.exclusions):
        shp = proj.polygon(ex)
        if not shp.is_valid:
            out.append(Violation("geofence", f"exclusion zone #{i} is invalid: {explain_validity(shp)}"))
        else:
            exclusions.append((i, shp))
    if out:
        return out  # geometry predicates on invalid polygons are meaningless

    pts = route_points(mission)
    for label, p in pts:
        if p.alt_m is not None and p.alt_m > fence.ceiling_m:
            out.append(Violation("geofence", f"{label} {_fmt(p)} at {p.alt_m} m is above the ceiling {fence.ceiling_m} m"))
        pt = Point(proj.xy(p))
        if not inclusion.covers(pt):
            out.append(Violation("geofence", f"{label} {_fmt(p)} is outside the inclusion area"))
        for i, ex in exclusions:
            if ex.relate_pattern(pt, "T********"):  # point in the zone's interior
                out.append(Violation("geofence", f"{label} {_fmt(p)} is inside exclusion zone #{i}"))
    for (la, a), (lb, b) in zip(pts, pts[1:]):
        pa, pb = proj.xy(a), proj.xy(b)
        if pa == pb:
            continue
        seg = LineString([pa, pb])
        if not inclusion.covers(seg):
            out.append(Violation("geofence", f"segment {la} -> {lb} leaves the inclusion area"))
        for i, ex in exclusions:
            # interior of the segment meets the interior of the zone: crossing, not touching
            if seg.relate_pattern(ex, "T********"):
                out.append(Violation("geofence", f"segment {la} -> {lb} crosses exclusion zone #{i}"))
    return _dedupe(out)


def _dedupe(vs: Iterable[Violation]) -> list[Violation]:
    seen, out = set(), []
    for v in vs:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def check_mission(
    mission: Mission,
    *,
    max_payload_kg: float | None = None,
    battery_wh: float | None = None,
    wh_per_km: float | None = None,
    reserve_fraction: float = 0.2,
    battery_pct: float | None = None,
    now: datetime | None = None,
    vehicle_type: VehicleType | None = None,
    release_channels: int | None = None,
) -> list[Violation]:
    """All reasons ``mission`` must not be flown; empty means go. Limits left ``None`` are not
    checked (the geometry and expiry always are)."""
    out: list[Violation] = []
    now = now or datetime.now(timezone.utc)
    if vehicle_type is not None and mission.vehicle_type is not vehicle_type:
        out.append(Violation("schema", f"mission is for a {mission.vehicle_type.value}, this vehicle is a {vehicle_type.value}"))
    if mission.is_expired(now):
        out.append(Violation("expired", f"mission expired at {mission.expires_at.isoformat()}"))  # type: ignore[union-attr]
    out += _check_geometry(mission)
    if max_payload_kg is not None and mission.payload_kg > max_payload_kg + 1e-9:
        out.append(Violation("payload", f"payload {mission.payload_kg:.2f} kg exceeds the vehicle limit {max_payload_kg:.2f} kg"))
    releases = sum(1 for s in mission.stops if s.action.value == "release")
    if release_channels is not None and mission.vehicle_type is VehicleType.drone and releases > release_channels:
        out.append(Violation("payload", f"{releases} release stops but the vehicle has {release_channels} release "
                                        f"channel(s): one gripper carries one parcel per trip"))
    if battery_wh is not None and wh_per_km is not None:
        usable = battery_wh * (1.0 if battery_pct is None else battery_pct / 100.0) * (1.0 - reserve_fraction)
        need = estimate_energy_wh(mission, wh_per_km)
        if need > usable:
            out.append(Violation(
                "energy",
                f"estimated {need:.1f} Wh for {route_length_m(mission) / 1000:.2f} km exceeds the usable "
                f"{usable:.1f} Wh (battery {battery_wh} Wh, {battery_pct if battery_pct is not None else 100}% charged, "
                f"{reserve_fraction:.0%} reserve)",
            ))
    return out
