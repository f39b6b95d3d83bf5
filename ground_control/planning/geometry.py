"""Pure geometry helpers: great-circle distance and a local metric projection.

The planner does all geometry (buffers, visibility, street snapping) in metres, so positions are
projected once into a local east/north plane around a reference point and projected back for the
waypoints it hands out. A local tangent plane is exact enough for a delivery area (a few km: the
error grows with the square of the distance, about 1 cm at 10 km) and invertible in closed form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ground_control.planning.model import Point

EARTH_RADIUS_M = 6_371_008.8          # mean radius, for haversine
_WGS84_A = 6_378_137.0
_WGS84_E2 = 6.694_379_990_14e-3


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres (mean Earth radius): a projection-free sanity check."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Projection:
    """Point <-> (east, north) metres. ``planar=True`` is the identity (lon = x, lat = y): used when
    the request's coordinates already are metres in a plane (benchmarks, simulations)."""

    ref: Point
    planar: bool = False

    @property
    def _scale(self) -> tuple[float, float]:
        """Metres per degree of longitude and latitude at the reference latitude (WGS84 radii)."""
        phi = math.radians(self.ref.lat)
        s = 1 - _WGS84_E2 * math.sin(phi) ** 2
        n = _WGS84_A / math.sqrt(s)                    # prime-vertical radius of curvature
        m = _WGS84_A * (1 - _WGS84_E2) / s ** 1.5      # meridional radius of curvature
        return math.radians(1) * n * math.cos(phi), math.radians(1) * m

    def to_xy(self, points: Iterable[Point]) -> np.ndarray:
        """Project points to an (n, 2) array of east/north metres."""
        arr = np.array([(p.lon, p.lat) for p in points], dtype=float).reshape(-1, 2)
        if self.planar:
            return arr
        kx, ky = self._scale
        return np.column_stack(((arr[:, 0] - self.ref.lon) * kx, (arr[:, 1] - self.ref.lat) * ky))

    def to_points(self, xy: np.ndarray | Sequence[Sequence[float]]) -> tuple[Point, ...]:
        """Inverse of :meth:`to_xy`."""
        arr = np.asarray(xy, dtype=float).reshape(-1, 2)
        if self.planar:
            return tuple(Point(lat=float(y), lon=float(x)) for x, y in arr)
        kx, ky = self._scale
        return tuple(Point(lat=float(self.ref.lat + y / ky), lon=float(self.ref.lon + x / kx))
                     for x, y in arr)


def centroid_point(points: Sequence[Point]) -> Point:
    """Mean of the coordinates: a good projection reference for a small area."""
    return Point(lat=sum(p.lat for p in points) / len(points),
                 lon=sum(p.lon for p in points) / len(points))


def euclidean_matrix(xy: np.ndarray) -> np.ndarray:
    """All-pairs straight-line distances of an (n, 2) array."""
    d = xy[:, None, :] - xy[None, :, :]
    return np.sqrt((d ** 2).sum(-1))
