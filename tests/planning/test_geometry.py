import math

import numpy as np
import pytest

from ground_control.planning.geometry import Projection, haversine_m
from ground_control.planning.model import Point


def test_haversine_one_degree_latitude():
    assert haversine_m(Point(0, 0), Point(1, 0)) == pytest.approx(111_195, rel=1e-4)


def test_projection_round_trip_and_agrees_with_haversine():
    ref = Point(52.0, 4.0)
    proj = Projection(ref)
    pts = [Point(52.01, 4.02), Point(51.98, 3.97), ref]
    xy = proj.to_xy(pts)
    back = proj.to_points(xy)
    for p, q in zip(pts, back):
        assert (p.lat, p.lon) == pytest.approx((q.lat, q.lon), abs=1e-12)
    assert xy[2] == pytest.approx([0, 0])
    # the plane uses the ellipsoid's radii, haversine a sphere: they agree to its ~0.5 %
    assert math.hypot(*(xy[0] - xy[1])) == pytest.approx(haversine_m(pts[0], pts[1]), rel=5e-3)


def test_planar_projection_is_identity():
    proj = Projection(Point(0, 0), planar=True)
    xy = proj.to_xy([Point(lat=3.0, lon=2.0)])
    assert xy.tolist() == [[2.0, 3.0]]
    assert proj.to_points(np.array([[2.0, 3.0]]))[0] == Point(lat=3.0, lon=2.0)
