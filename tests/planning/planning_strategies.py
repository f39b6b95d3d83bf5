"""Hypothesis strategies: random geofences (rectangular or L-shaped inclusion area, disjoint
convex no-fly zones) with random parcels, as planner requests around ORIGIN; optionally robots in
the fleet, with or without a street grid."""

from __future__ import annotations

import math

import shapely
from hypothesis import assume, strategies as st

from ground_control.planning.model import GeofenceSpec, PlanRequest, StreetNetwork, VehicleKind

from planning_helpers import PROJ, at, drone, hub, parcel

coord = st.floats(-1800, 1800, allow_nan=False)


@st.composite
def zone(draw):
    cx, cy = draw(coord), draw(coord)
    r = draw(st.floats(30, 300))
    n = draw(st.integers(3, 8))
    angs = sorted(draw(st.lists(st.floats(0, 2 * math.pi), min_size=n, max_size=n, unique=True)))
    poly = shapely.Polygon([(cx + r * math.cos(a), cy + r * math.sin(a)) for a in angs]).convex_hull
    assume(poly.geom_type == "Polygon" and poly.area > 100)
    return poly


MIXED = (VehicleKind.drone, VehicleKind.robot)
ROBOTS = (VehicleKind.robot,)


def street_grid(spacing: float, step: float = 250.0) -> StreetNetwork:
    """East-west and north-south streets every ``spacing`` metres over the whole square, with a
    vertex every ``step`` metres (segments short enough that a zone only closes a few)."""
    ticks = [-2000 + k * step for k in range(int(4000 / step) + 1)]
    lines = []
    for c in range(-2000, 2001, int(spacing)):
        lines.append(tuple(at(t, c) for t in ticks))
        lines.append(tuple(at(c, t) for t in ticks))
    return StreetNetwork(tuple(lines))


@st.composite
def geofenced_request(draw, kinds=(VehicleKind.drone,)):
    margin = draw(st.sampled_from([1.0, 10.0, 25.0]))
    if draw(st.booleans()):
        inc = shapely.box(-2000, -2000, 2000, 2000)
    else:   # L-shaped: concave corner the paths must go round
        inc = shapely.Polygon([(-2000, -2000), (2000, -2000), (2000, 0), (0, 0), (0, 2000),
                               (-2000, 2000)])
    zones: list[shapely.Polygon] = []
    for z in draw(st.lists(zone(), max_size=6)):
        if all(z.distance(o) > 2 * margin + 1 for o in zones):
            zones.append(z)
    hub_xy = (-1500.0, -1500.0)
    assume(not any(z.buffer(margin + 1).contains(shapely.Point(hub_xy)) for z in zones))
    pts = draw(st.lists(st.tuples(coord, coord), min_size=1, max_size=12))
    fence = GeofenceSpec(
        inclusion=tuple(at(x, y) for x, y in list(inc.exterior.coords)[:-1]),
        exclusions=tuple(tuple(at(x, y) for x, y in list(z.exterior.coords)[:-1]) for z in zones),
        safety_margin_m=margin)
    range_m = draw(st.floats(2_500, 30_000))      # often binding: short hops, many stops
    vehicles = tuple(drone(f"v{k}", payload=4, range_m=range_m, kind=kinds[k % len(kinds)])
                     for k in range(3))
    parcels = tuple(parcel(f"p{i}", x, y, w=1.0) for i, (x, y) in enumerate(pts))
    streets = None
    if VehicleKind.robot in kinds and draw(st.booleans()):
        streets = street_grid(draw(st.sampled_from([500.0, 1000.0])))
    return PlanRequest(hubs=(hub("H", *hub_xy),), vehicles=vehicles, parcels=parcels,
                       geofence=fence, streets=streets, time_limit_s=0.1)


def fence_shapes(req: PlanRequest) -> tuple[shapely.Polygon, list[shapely.Polygon]]:
    """The request's geofence in the test projection (metres), unbuffered."""
    g = req.geofence
    inc = shapely.Polygon(PROJ.to_xy(g.inclusion))
    return inc, [shapely.Polygon(PROJ.to_xy(ex)) for ex in g.exclusions]


def fleet_request():
    """Drones and robots together, or robots alone (so robot legs round zones really occur)."""
    return st.one_of(geofenced_request(kinds=MIXED), geofenced_request(kinds=ROBOTS))
