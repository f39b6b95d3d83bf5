"""Drone travel-cost matrix: fast visibility shortest paths vs the straightforward baseline, in
the same run on the same random instance. Prints one JSON line.

    .venv/bin/python benchmarks/geofence_matrix.py --points 1000 --polygons 50 --vertices 10
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import shapely

from ground_control.planning.visibility import (
    Scene, shortest_paths_baseline, shortest_paths_fast,
)


def random_instance(points: int, polygons: int, vertices: int, seed: int, size: float = 10_000.0,
                    star: float = 0.0, margin: float = 10.0) -> tuple[np.ndarray, Scene]:
    """Random polygons in a square (convex, or star-shaped for a ``star`` fraction), kept apart
    by twice the margin so buffers do not merge, and random points outside all of them."""
    rng = np.random.default_rng(seed)
    polys: list[shapely.Polygon] = []
    tries = 0
    while len(polys) < polygons and tries < 100 * polygons:
        tries += 1
        c = rng.uniform(0.05 * size, 0.95 * size, 2)
        r = rng.uniform(0.01, 0.04) * size
        ang = np.sort(rng.uniform(0, 2 * np.pi, vertices))
        if rng.random() < star:
            rad = r * rng.uniform(0.4, 1.0, vertices)
            poly = shapely.Polygon(c + np.column_stack([np.cos(ang), np.sin(ang)]) * rad[:, None])
        else:
            ring = c + r * np.column_stack([np.cos(ang), np.sin(ang)])
            poly = shapely.Polygon(ring).convex_hull
        if not poly.is_valid or poly.area == 0:
            continue
        grown = poly.buffer(margin, join_style="mitre", mitre_limit=2.0)
        if any(grown.buffer(margin).intersects(p) for p in polys):
            continue
        polys.append(grown)
    obstacles = [shapely.Polygon(p.exterior) for p in polys]
    inclusion = shapely.box(0, 0, size, size)
    scene = Scene(obstacles, inclusion, tol=1e-9 * size)
    union = shapely.unary_union(obstacles)
    pts: list[np.ndarray] = []
    while sum(len(p) for p in pts) < points:
        cand = rng.uniform(0, size, (points, 2))
        pts.append(cand[~shapely.intersects(shapely.points(cand), union)])
    return np.vstack(pts)[:points], scene


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--polygons", type=int, default=50)
    ap.add_argument("--vertices", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--star", type=float, default=0.0,
                    help="fraction of non-convex (star) polygons")
    args = ap.parse_args()
    pts, scene = random_instance(args.points, args.polygons, args.vertices, args.seed,
                                 star=args.star)
    t0 = time.perf_counter()
    fast = shortest_paths_fast(pts, scene)
    t1 = time.perf_counter()
    base = shortest_paths_baseline(pts, scene)
    t2 = time.perf_counter()
    fin = np.isfinite(base.dist)
    same_inf = bool((fin == np.isfinite(fast.dist)).all())
    rel = np.abs(fast.dist[fin] - base.dist[fin]) / np.maximum(base.dist[fin], 1e-12)
    print(json.dumps({
        "points": len(pts), "polygons": len(scene.obstacles), "vertices": args.vertices,
        "star": args.star, "seed": args.seed,
        "fast_s": round(t1 - t0, 3), "baseline_s": round(t2 - t1, 3),
        "speedup": round((t2 - t1) / max(t1 - t0, 1e-9), 1),
        "max_rel_err": float(rel.max()) if rel.size else 0.0, "same_unreachable": same_inf,
    }))


if __name__ == "__main__":
    main()
