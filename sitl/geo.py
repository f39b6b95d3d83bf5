"""Flat-earth geometry around a vehicle's origin.

Deliveries span a few km, so a local tangent plane (north/east metres from home) is accurate to
centimetres and far cheaper than geodesics for hundreds of vehicles stepping ten times a second.
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6378137.0
M_PER_DEG_LAT = math.pi * EARTH_RADIUS_M / 180.0


class LocalFrame:
    """Converts between (lat, lon) degrees and (north, east) metres around an origin."""

    __slots__ = ("lat0", "lon0", "_m_per_deg_lon")

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0 = lat0
        self.lon0 = lon0
        self._m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(lat0))

    def to_ne(self, lat: float, lon: float) -> tuple[float, float]:
        return (lat - self.lat0) * M_PER_DEG_LAT, (lon - self.lon0) * self._m_per_deg_lon

    def to_latlon(self, north: float, east: float) -> tuple[float, float]:
        return self.lat0 + north / M_PER_DEG_LAT, self.lon0 + east / self._m_per_deg_lon


def point_in_polygon(n: float, e: float, poly: list[tuple[float, float]]) -> bool:
    """Ray casting; poly is a list of (north, east) vertices, implicitly closed."""
    inside = False
    j = len(poly) - 1
    for i in range(len(poly)):
        ni, ei = poly[i]
        nj, ej = poly[j]
        if (ei > e) != (ej > e):
            n_cross = ni + (e - ei) * (nj - ni) / (ej - ei)
            if n < n_cross:
                inside = not inside
        j = i
    return inside


def bearing_deg(dn: float, de: float) -> float:
    """Compass bearing (0 = north, clockwise) of a north/east displacement."""
    return math.degrees(math.atan2(de, dn)) % 360.0
