"""Small request builders for planner tests (WGS84 around a fixed origin, offsets in metres)."""

from __future__ import annotations

from ground_control.planning.geometry import Projection
from ground_control.planning.model import (
    GeofenceSpec, HubSpec, ParcelSpec, Point, TimeWindow, VehicleKind, VehicleSpec,
)

ORIGIN = Point(lat=52.0, lon=4.0)
PROJ = Projection(ORIGIN)


def at(x: float, y: float) -> Point:
    """The WGS84 point x metres east and y metres north of ORIGIN."""
    return PROJ.to_points([[x, y]])[0]


def hub(hid: str = "H", x: float = 0.0, y: float = 0.0) -> HubSpec:
    return HubSpec(hub_id=hid, position=at(x, y))


def drone(vid: str, hub_id: str = "H", payload: float = 5.0, range_m: float = 20_000.0,
          speed: float = 10.0, **kw) -> VehicleSpec:
    # battery chosen so max_distance_m == range_m with 20 % reserve and 10 Wh/km
    return VehicleSpec(vehicle_id=vid, kind=kw.pop("kind", VehicleKind.drone), hub_id=hub_id,
                       payload_kg=payload, battery_wh=range_m / 1000 * 10 / 0.8, wh_per_km=10.0,
                       speed_mps=speed, **kw)


def parcel(pid: str, x: float, y: float, w: float = 1.0, hub_id: str = "H",
           tw: tuple[float, float] | None = None, **kw) -> ParcelSpec:
    return ParcelSpec(parcel_id=pid, hub_id=hub_id, drop_off=at(x, y), weight_kg=w,
                      time_window=TimeWindow(*tw) if tw else None, **kw)


def square(cx: float, cy: float, half: float) -> tuple[Point, ...]:
    return tuple(at(cx + dx, cy + dy) for dx, dy in
                 ((-half, -half), (half, -half), (half, half), (-half, half)))


def fence(half: float = 5_000.0, exclusions=(), margin: float = 10.0) -> GeofenceSpec:
    return GeofenceSpec(inclusion=square(0, 0, half), exclusions=tuple(exclusions),
                        safety_margin_m=margin)
