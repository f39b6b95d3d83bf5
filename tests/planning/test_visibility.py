import math

import numpy as np
import pytest
import shapely

from ground_control.planning.geometry import Projection
from ground_control.planning.model import GeofenceSpec, Point
from ground_control.planning.visibility import (
    Scene, make_scene, shortest_paths_baseline, shortest_paths_fast,
)

PLANAR = Projection(Point(0, 0), planar=True)


def _pt(x, y):
    return Point(lat=y, lon=x)


def _square(cx, cy, h):
    return (_pt(cx - h, cy - h), _pt(cx + h, cy - h), _pt(cx + h, cy + h), _pt(cx - h, cy + h))


@pytest.mark.parametrize("method", [shortest_paths_fast, shortest_paths_baseline])
def test_square_obstacle_has_analytic_detour(method):
    fence = GeofenceSpec(inclusion=_square(0, 0, 1000), exclusions=(_square(0, 0, 20),),
                         safety_margin_m=10)
    pts = np.array([[-100.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    res = method(pts, make_scene(pts, fence, PLANAR))
    # buffered square of half-side 30: around two corners
    assert res.dist[0, 1] == pytest.approx(2 * math.hypot(70, 30) + 60, rel=1e-12)
    assert res.dist[0, 2] == pytest.approx(math.hypot(100, 100), rel=1e-12)   # clear diagonal
    path = res.path(0, 1)
    assert len(path) == 4 and np.allclose(np.abs(path[1:3]), [[30, 30], [30, 30]])


@pytest.mark.parametrize("method", [shortest_paths_fast, shortest_paths_baseline])
def test_points_inside_zone_or_outside_area_are_unreachable(method):
    fence = GeofenceSpec(inclusion=_square(0, 0, 1000), exclusions=(_square(0, 0, 20),),
                         safety_margin_m=10)
    pts = np.array([[-100.0, 0.0], [25.0, 0.0], [2000.0, 0.0], [100.0, 0.0]])
    d = method(pts, make_scene(pts, fence, PLANAR)).dist
    assert np.isinf(d[0, 1]) and np.isinf(d[1, 3])     # inside the buffer
    assert np.isinf(d[0, 2])                           # outside the inclusion area
    assert np.isfinite(d[0, 3]) and d[1, 1] == 0


def test_concave_inclusion_area_forces_path_around_the_notch():
    # a U-shaped area: from one arm to the other the path goes round the bottom corners
    u = tuple(_pt(x, y) for x, y in [(0, 0), (300, 0), (300, 300), (200, 300), (200, 100),
                                     (100, 100), (100, 300), (0, 300)])
    fence = GeofenceSpec(inclusion=u, safety_margin_m=0)
    pts = np.array([[50.0, 250.0], [250.0, 250.0]])
    for method in (shortest_paths_fast, shortest_paths_baseline):
        d = method(pts, make_scene(pts, fence, PLANAR, inset_m=0)).dist
        assert d[0, 1] == pytest.approx(2 * math.hypot(50, 150) + 100, rel=1e-12)


def _random_scene(rng, n_poly, n_pts, star, concave_area=False):
    polys = []
    while len(polys) < n_poly:
        c = rng.uniform(100, 900, 2)
        ang = np.sort(rng.uniform(0, 2 * np.pi, 7))
        rad = rng.uniform(20, 60) * (rng.uniform(0.4, 1, 7) if star else np.ones(7))
        p = shapely.Polygon(c + np.column_stack([np.cos(ang), np.sin(ang)]) * rad[:, None])
        p = p if star else p.convex_hull
        if p.is_valid and not any(p.buffer(5).intersects(q) for q in polys):
            polys.append(p)
    area = shapely.box(0, 0, 1000, 1000)
    if concave_area:    # a comb: two notches cut from the top and one from the right
        area = area.difference(shapely.box(200, 600, 300, 1000)).difference(
            shapely.box(600, 500, 650, 1000)).difference(shapely.box(850, 100, 1000, 200))
    union = shapely.unary_union(polys)
    pts = rng.uniform(0, 1000, (n_pts * 3, 2))
    keep = ~shapely.intersects(shapely.points(pts), union) & shapely.contains(area, shapely.points(pts))
    return pts[keep][:n_pts], Scene(polys, area, tol=1e-6)


@pytest.mark.parametrize("seed,star,concave", [(0, False, False), (1, False, True),
                                               (2, True, False), (3, True, True)])
def test_fast_equals_baseline_on_random_instances(seed, star, concave):
    pts, scene = _random_scene(np.random.default_rng(seed), 8, 60, star, concave)
    fast, base = shortest_paths_fast(pts, scene), shortest_paths_baseline(pts, scene)
    assert np.array_equal(np.isfinite(fast.dist), np.isfinite(base.dist))
    fin = np.isfinite(base.dist)
    assert np.allclose(fast.dist[fin], base.dist[fin], rtol=1e-9, atol=1e-9)
    # reconstructed paths: visible legs, and their length is the reported distance
    for i, j in [(0, 1), (2, 7), (5, 30), (11, 59)]:
        path = fast.path(i, j)
        assert scene.visible(path[:-1], path[1:]).all()
        assert np.hypot(*np.diff(path, axis=0).T).sum() == pytest.approx(fast.dist[i, j])
