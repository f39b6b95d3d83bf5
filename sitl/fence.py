"""Geofence: inclusion/exclusion polygons and circles plus an altitude ceiling (AC_Fence-like).

Built from MAV_MISSION_TYPE_FENCE items exactly as a GCS uploads them to ArduPilot: consecutive
FENCE_POLYGON_VERTEX items form one polygon whose vertex count is in param1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .geo import LocalFrame, point_in_polygon

CMD_FENCE_RETURN_POINT = 5000
CMD_FENCE_POLYGON_VERTEX_INCLUSION = 5001
CMD_FENCE_POLYGON_VERTEX_EXCLUSION = 5002
CMD_FENCE_CIRCLE_INCLUSION = 5003
CMD_FENCE_CIRCLE_EXCLUSION = 5004

FENCE_TYPE_ALT_MAX = 1
FENCE_TYPE_CIRCLE = 2
FENCE_TYPE_POLYGON = 4


class FenceError(ValueError):
    """A fence upload that ArduPilot would refuse (bad vertex counts, too few vertices)."""


@dataclass
class FenceGeometry:
    """Fence shapes in local north/east metres."""

    inclusion_polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    exclusion_polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    inclusion_circles: list[tuple[float, float, float]] = field(default_factory=list)  # n, e, r
    exclusion_circles: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.inclusion_polygons or self.exclusion_polygons or self.inclusion_circles
                    or self.exclusion_circles)


def geometry_from_items(items: list, frame: LocalFrame) -> FenceGeometry:
    """Parse uploaded fence items (objects with command, param1, x, y as int 1e7 degrees)."""
    geo = FenceGeometry()
    i = 0
    while i < len(items):
        it = items[i]
        cmd = it.command
        if cmd in (CMD_FENCE_POLYGON_VERTEX_INCLUSION, CMD_FENCE_POLYGON_VERTEX_EXCLUSION):
            count = int(it.param1)
            if count < 3 or i + count > len(items):
                raise FenceError(f"bad polygon vertex count {count} at item {i}")
            poly = []
            for k in range(count):
                v = items[i + k]
                if v.command != cmd or int(v.param1) != count:
                    raise FenceError(f"polygon at item {i} broken at item {i + k}")
                poly.append(frame.to_ne(v.x / 1e7, v.y / 1e7))
            (geo.inclusion_polygons if cmd == CMD_FENCE_POLYGON_VERTEX_INCLUSION
             else geo.exclusion_polygons).append(poly)
            i += count
            continue
        if cmd in (CMD_FENCE_CIRCLE_INCLUSION, CMD_FENCE_CIRCLE_EXCLUSION):
            n, e = frame.to_ne(it.x / 1e7, it.y / 1e7)
            (geo.inclusion_circles if cmd == CMD_FENCE_CIRCLE_INCLUSION
             else geo.exclusion_circles).append((n, e, float(it.param1)))
        elif cmd != CMD_FENCE_RETURN_POINT:
            raise FenceError(f"item {i}: command {cmd} is not a fence item")
        i += 1
    return geo


def breaches(geo: FenceGeometry, fence_type: int, alt_max: float, radius: float,
             n: float, e: float, alt: float,
             home: tuple[float, float] = (0.0, 0.0)) -> list[str]:
    """Names of the fences the point (n, e, alt) breaches; empty list = inside.

    ``home`` is the centre of the FENCE_RADIUS circle in the same local frame.
    """
    out: list[str] = []
    if fence_type & FENCE_TYPE_ALT_MAX and alt > alt_max:
        out.append("Max Alt")
    if fence_type & FENCE_TYPE_CIRCLE and math.hypot(n - home[0], e - home[1]) > radius:
        out.append("Circle")
    if fence_type & FENCE_TYPE_POLYGON:
        bad = False
        if geo.inclusion_polygons and not all(point_in_polygon(n, e, p) for p in geo.inclusion_polygons):
            bad = True
        if any(point_in_polygon(n, e, p) for p in geo.exclusion_polygons):
            bad = True
        if any(math.hypot(n - cn, e - ce) > r for cn, ce, r in geo.inclusion_circles):
            bad = True
        if any(math.hypot(n - cn, e - ce) < r for cn, ce, r in geo.exclusion_circles):
            bad = True
        if bad:
            out.append("Polygon")
    return out
