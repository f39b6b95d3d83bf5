"""Geographic primitives shared by missions and geofences (WGS84 degrees, metres)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from fleet_protocol.base import WireModel


class _Strict(WireModel):
    pass


class LatLon(_Strict):
    """A WGS84 point. ``alt_m``, where given, is metres above the home/hub altitude."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_m: float | None = Field(default=None, ge=-100, le=10_000)


class Polygon(_Strict):
    """A simple polygon as its vertices in order (ring not closed: first != last is fine)."""

    vertices: Annotated[list[LatLon], Field(min_length=3, max_length=10_000)]

    @model_validator(mode="after")
    def _distinct_vertices(self) -> "Polygon":
        distinct = {(p.lat, p.lon) for p in self.vertices}
        if len(distinct) < 3:
            raise ValueError("polygon needs at least 3 distinct vertices")
        return self

    def ring(self) -> list[tuple[float, float]]:
        """Vertices as (lon, lat) pairs, the axis order GeoJSON and shapely use."""
        return [(p.lon, p.lat) for p in self.vertices]


class Geofence(_Strict):
    """Where a vehicle may go: inside ``inclusion``, outside every ``exclusions`` polygon, and
    below ``ceiling_m`` (relative to home). Mirrors ArduPilot's polygon fence + altitude fence."""

    inclusion: Polygon
    exclusions: list[Polygon] = Field(default_factory=list, max_length=1_000)
    ceiling_m: float = Field(default=120.0, gt=0, le=10_000)
