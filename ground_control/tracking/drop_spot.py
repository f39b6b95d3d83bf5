"""Whether a recipient's drop spot may be used: near the address, inside the service area, clear
of every no-fly zone (with the planner's safety margin, so the planner can reach it) and only
before the parcel leaves. Pure: the caller passes the fence the parcel's hub flies under
(``mission_builder.fence_for``, the same rule dispatch applies). Each refusal is a reason a
recipient can act on."""

from __future__ import annotations

import math

from shapely.geometry import Point as ShapelyPoint, Polygon as ShapelyPolygon

from fleet_protocol.geo import Geofence
from ground_control.domain.parcel_lifecycle import ParcelState
from ground_control.planning.geometry import Projection, haversine_m
from ground_control.planning.model import Point

#: the drop spot may change only while the parcel waits at the hub (not yet on a mission's way)
OPEN_STATES = frozenset({ParcelState.created.value, ParcelState.planned.value})


class DropSpotRefused(ValueError):
    """The spot cannot be used; the message says why."""


class DropSpotTooLate(DropSpotRefused):
    """The parcel already left (409 rather than 422)."""


def check_drop_spot(spot: Point, address: Point, state: str, radius_m: float, fence: Geofence | None,
                    safety_margin_m: float) -> None:
    """Raise :class:`DropSpotRefused` with the reason, or return when the spot may be used."""
    if state not in OPEN_STATES:
        raise DropSpotTooLate(f"the parcel is {state}: the drop spot can only be chosen before it is dispatched")
    if not (math.isfinite(spot.lat) and math.isfinite(spot.lon)):
        raise DropSpotRefused("lat and lon must be finite numbers")
    d = haversine_m(spot, address)
    if d > radius_m:
        raise DropSpotRefused(f"the spot is {d:.0f} m from the delivery address; it must be within {radius_m:g} m")
    if fence is None:
        return
    proj = Projection(ref=spot)

    def poly(vertices: list) -> ShapelyPolygon:
        return ShapelyPolygon(proj.to_xy([Point(v.lat, v.lon) for v in vertices]))

    here = ShapelyPoint(0.0, 0.0)
    if not poly(fence.inclusion.vertices).contains(here):
        raise DropSpotRefused("the spot is outside the service area")
    for zone in fence.exclusions:
        z = poly(zone.vertices)
        if z.contains(here) or z.intersects(here):
            raise DropSpotRefused("the spot is inside a no-fly zone")
        gap = z.exterior.distance(here)
        if gap < safety_margin_m:
            raise DropSpotRefused(f"the spot is {gap:.0f} m from a no-fly zone; keep at least {safety_margin_m:g} m away")
