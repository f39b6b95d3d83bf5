"""Shortest drone paths among N points around no-fly zones, inside the inclusion area.

Obstacles are the exclusion polygons buffered by the safety margin (mitre joins: the buffer never
comes closer than the margin, and a convex zone keeps its vertex count). A segment is *visible*
when it does not enter the interior of any obstacle and stays inside the inclusion area; running
along an obstacle edge or touching a vertex is allowed. Both implementations apply that one rule
with the same tolerance ``tol`` (obstacles shrunk by ``tol``, the inclusion area grown by it):

* ``baseline``: visibility graph over points + every obstacle and inclusion vertex, each pair
  tested with shapely (vectorised, STRtree), then scipy Dijkstra from every point. Honest and
  simple; cost grows with (N + K)^2 GEOS predicates.
* ``fast``: shortest paths bend only at convex obstacle vertices (reflex vertices of the inclusion
  area), and leave a point towards a vertex that is tangent as seen from it. Visibility against a
  convex obstacle is three half-plane tests per pair (inside the cone the obstacle subtends from
  one end and beyond its tangent chord), i.e. matrix products; non-convex obstacles and a
  non-convex inclusion area only pre-filter with their hulls and confirm with shapely. Distances
  are then min-plus products of point->vertex and vertex->point distances.

Points inside an obstacle or outside the inclusion area are unreachable (``inf``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from ground_control.planning.geometry import Projection, euclidean_matrix
from ground_control.planning.model import GeofenceSpec

_REL_TOL = 1e-9


# --------------------------------------------------------------------------- shared preparation
@dataclass
class Scene:
    """Obstacles and inclusion area in metres, plus the visibility tolerance."""

    obstacles: list[shapely.Polygon]        # buffered, unioned, holes filled
    inclusion: shapely.Polygon | None
    tol: float
    shrunk: list[shapely.Polygon] = field(default_factory=list)
    grown_inclusion: shapely.Polygon | None = None

    def __post_init__(self) -> None:
        self.shrunk = [o.buffer(-self.tol, join_style="mitre") for o in self.obstacles]
        self.shrunk = [s for s in self.shrunk if not s.is_empty]
        if self.inclusion is not None:
            self.grown_inclusion = self.inclusion.buffer(self.tol, join_style="mitre")
        self._tree = shapely.STRtree(self.shrunk)
        for g in self.shrunk:
            shapely.prepare(g)
        if self.grown_inclusion is not None:
            shapely.prepare(self.grown_inclusion)

    def free(self, xy: np.ndarray) -> np.ndarray:
        """Bool per point: outside every obstacle's interior and inside the inclusion area."""
        pts = shapely.points(xy)
        ok = np.ones(len(xy), dtype=bool)
        if self.shrunk:
            hit = self._tree.query(pts, predicate="intersects")
            ok[hit[0]] = False
        if self.grown_inclusion is not None:
            ok &= shapely.covered_by(pts, self.grown_inclusion)
        return ok

    def visible(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Bool per segment a[i]-b[i] (shapely, exact up to ``tol``)."""
        if len(a) == 0:
            return np.zeros(0, dtype=bool)
        segs = shapely.linestrings(np.stack([a, b], axis=1))
        ok = np.ones(len(a), dtype=bool)
        if self.shrunk:
            hit = self._tree.query(segs, predicate="intersects")
            ok[hit[0]] = False
        if self.grown_inclusion is not None:
            idx = np.flatnonzero(ok)
            ok[idx] = shapely.covered_by(segs[idx], self.grown_inclusion)
        return ok


def make_scene(xy_extent: np.ndarray, geofence: GeofenceSpec | None, projection: Projection
               ) -> Scene:
    inclusion = None
    obstacles: list[shapely.Polygon] = []
    pool = [xy_extent]
    if geofence is not None:
        inc = projection.to_xy(geofence.inclusion)
        pool.append(inc)
        inclusion = shapely.make_valid(shapely.Polygon(inc))
        if inclusion.geom_type != "Polygon":     # a self-touching ring: keep its largest part
            inclusion = max(shapely.get_parts(inclusion), key=lambda g: g.area)
        rings = [shapely.Polygon(projection.to_xy(ex)) for ex in geofence.exclusions]
        if rings:
            merged = shapely.unary_union([
                shapely.make_valid(r).buffer(geofence.safety_margin_m, join_style="mitre",
                                             mitre_limit=2.0) for r in rings])
            for part in shapely.get_parts(merged):
                if part.geom_type == "Polygon" and part.area > 0:
                    obstacles.append(shapely.Polygon(part.exterior).normalize())
    allxy = np.vstack([p for p in pool if len(p)])
    span = float(np.ptp(allxy, axis=0).max()) if len(allxy) else 1.0
    tol = _REL_TOL * max(span, 1.0)
    return Scene(obstacles, inclusion, tol)


def _ring(poly: shapely.Polygon) -> np.ndarray:
    """Exterior ring without the closing vertex, counter-clockwise."""
    ring = np.asarray(shapely.orient_polygons(poly).exterior.coords)[:-1]
    return ring


def _ring_vertices(scene: Scene, convex_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate bend vertices with their ring neighbours (prev, next).

    Obstacles: their convex vertices (all, unless ``convex_only``). Inclusion area: its reflex
    vertices (all, unless ``convex_only``) -- a concave boundary is an obstacle seen from inside.
    """
    verts, prevs, nexts = [], [], []
    rings = [(_ring(o), 1.0) for o in scene.obstacles]
    if scene.inclusion is not None:
        rings.append((_ring(scene.inclusion), -1.0))
    for ring, sign in rings:
        prv, nxt = np.roll(ring, 1, axis=0), np.roll(ring, -1, axis=0)
        keep = np.ones(len(ring), dtype=bool)
        if convex_only:
            turn = _cross(ring - prv, nxt - ring)          # > 0: convex corner of a CCW ring
            keep = sign * turn > 0
        verts.append(ring[keep]), prevs.append(prv[keep]), nexts.append(nxt[keep])
    if not verts:
        e = np.zeros((0, 2))
        return e, e, e
    v, p, n = np.vstack(verts), np.vstack(prevs), np.vstack(nexts)
    ok = scene.free(v) if len(v) else np.zeros(0, dtype=bool)
    return v[ok], p[ok], n[ok]


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


# --------------------------------------------------------------------------------- the results
@dataclass
class PathResult:
    """All-pairs distances among the query points and the means to rebuild any path."""

    dist: np.ndarray                                 # (N, N), inf = unreachable
    _path: object = field(repr=False, default=None)  # callable (i, j) -> (k, 2) waypoints

    def path(self, i: int, j: int) -> np.ndarray:
        return self._path(i, j)  # type: ignore[operator]


def _walk(pred_row: np.ndarray, nodes: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Waypoints src -> dst from a Dijkstra predecessor row (indices into ``nodes``)."""
    seq = [dst]
    while seq[-1] != src:
        prev = pred_row[seq[-1]]
        if prev < 0:
            return nodes[[src, dst]]
        seq.append(int(prev))
    return nodes[seq[::-1]]


# ---------------------------------------------------------------------------------- baseline
def shortest_paths_baseline(points: np.ndarray, scene: Scene) -> PathResult:
    """Every node pair tested with shapely; Dijkstra from every point over the full graph."""
    n = len(points)
    free = scene.free(points)
    v, _, _ = _ring_vertices(scene, convex_only=False)
    nodes = np.vstack([points, v])
    alive = np.concatenate([free, np.ones(len(v), dtype=bool)])
    iu, ju = np.triu_indices(len(nodes), k=1)
    keep = alive[iu] & alive[ju]
    iu, ju = iu[keep], ju[keep]
    vis = scene.visible(nodes[iu], nodes[ju])
    iu, ju = iu[vis], ju[vis]
    w = np.hypot(*(nodes[iu] - nodes[ju]).T)
    graph = csr_matrix((np.concatenate([w, w]), (np.concatenate([iu, ju]),
                                                   np.concatenate([ju, iu]))),
                       shape=(len(nodes), len(nodes)))
    # explicit zero-length edges (duplicate points) must survive csr: nudge them
    graph.data[graph.data == 0] = 1e-300
    d, pred = dijkstra(graph, directed=False, indices=np.arange(n), return_predecessors=True)
    dist = d[:, :n].copy()
    dist[~free, :] = np.inf
    dist[:, ~free] = np.inf
    np.fill_diagonal(dist, 0.0)
    return PathResult(dist, lambda i, j: _walk(pred[i], nodes, i, j))


# -------------------------------------------------------------------------------------- fast
@dataclass
class _Hull:
    """A convex region tested with half-planes; ``exact`` = it is the obstacle itself."""

    ring: np.ndarray          # CCW, not closed
    exact: bool
    poly: shapely.Polygon


def _hulls(scene: Scene) -> list[_Hull]:
    out = []
    for o in scene.obstacles:
        hull = o.convex_hull
        exact = abs(hull.area - o.area) <= 1e-9 * max(hull.area, 1.0)
        out.append(_Hull(_ring(hull), exact, hull))
    if scene.inclusion is not None:
        pockets = scene.inclusion.convex_hull.difference(scene.inclusion)
        for part in shapely.get_parts(pockets):
            if part.geom_type == "Polygon" and part.area > scene.tol * scene.tol:
                out.append(_Hull(_ring(part.convex_hull), False, part.convex_hull))
    return out


def _blocked_by_hull(a: np.ndarray, b: np.ndarray, hull: np.ndarray, tol: float) -> np.ndarray:
    """(len(a), len(b)) bool: segment a_i -> b_j enters the interior of the convex ``hull``.

    From a point outside a convex polygon, the segment to b enters it iff b lies strictly inside
    the cone spanned by the two tangent vertices and strictly beyond the chord joining them. All
    three are signed distances linear in b: one small matrix product each."""
    rel = hull[None, :, :] - a[:, None, :]                       # (A, m, 2)
    c = hull.mean(axis=0)
    toc = c - a                                                  # (A, 2)
    ang = np.arctan2(_cross(toc[:, None, :], rel), (toc[:, None, :] * rel).sum(-1))
    left = hull[np.argmax(ang, axis=1)]                          # (A, 2) tangent vertices
    right = hull[np.argmin(ang, axis=1)]
    bh = np.column_stack([b, np.ones(len(b))])                   # (B, 3)

    def halfplane(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
        """Signed distance of every b to the directed line p0 -> p1 (left positive), (A, B)."""
        d = p1 - p0
        nrm = np.hypot(d[:, 0], d[:, 1])
        nrm[nrm == 0] = 1.0
        coef = np.column_stack([-d[:, 1], d[:, 0], d[:, 1] * p0[:, 0] - d[:, 0] * p0[:, 1]])
        return (coef / nrm[:, None]) @ bh.T

    inside = halfplane(a, right) > tol
    inside &= halfplane(left, a) > tol
    inside &= halfplane(right, left) < -tol       # beyond the chord, seen from a
    inside[_inside_convex(a, hull, tol)] = True   # a in the hull: let the caller decide exactly
    return inside


def _inside_convex(xy: np.ndarray, hull: np.ndarray, tol: float) -> np.ndarray:
    e0, e1 = hull, np.roll(hull, -1, axis=0)
    d = e1 - e0
    s = _cross(d[None, :, :], xy[:, None, :] - e0[None, :, :]) / np.hypot(*d.T)[None, :]
    return (s > tol).all(axis=1)


def _visibility_matrix(a: np.ndarray, b: np.ndarray, scene: Scene, hulls: list[_Hull],
                       chunk: int = 256) -> np.ndarray:
    """(len(a), len(b)) bool visibility: half-plane tests, shapely only for inexact hulls."""
    vis = np.ones((len(a), len(b)), dtype=bool)
    inexact = np.zeros((len(a), len(b)), dtype=bool)
    for h in hulls:
        for s in range(0, len(a), chunk):
            blk = _blocked_by_hull(a[s:s + chunk], b, h.ring, scene.tol)
            if h.exact:
                vis[s:s + chunk] &= ~blk
            else:
                inexact[s:s + chunk] |= blk
    ii, jj = np.nonzero(inexact & vis)
    if len(ii):
        vis[ii, jj] = scene.visible(a[ii], b[jj])
    return vis


def _tangent(p: np.ndarray, v: np.ndarray, prv: np.ndarray, nxt: np.ndarray, tol: float
             ) -> np.ndarray:
    """(P, V) bool: seen from p, both ring neighbours of v lie on one side of line p-v, so a
    shortest path may bend at v (touching it or passing through p itself counts)."""
    d = v[None, :, :] - p[:, None, :]
    n = np.hypot(d[..., 0], d[..., 1])
    n[n == 0] = 1.0
    s1 = _cross(d, (prv - v)[None]) / n
    s2 = _cross(d, (nxt - v)[None]) / n
    return (s1 * s2 >= -tol * tol) | (n <= tol)


def shortest_paths_fast(points: np.ndarray, scene: Scene) -> PathResult:
    n = len(points)
    free = scene.free(points)
    hulls = _hulls(scene)
    v, vp, vn = _ring_vertices(scene, convex_only=True)
    k = len(v)
    direct = euclidean_matrix(points)
    vis_pp = _visibility_matrix(points, points, scene, hulls)
    if k == 0:
        dist = np.where(vis_pp, direct, np.inf)
        via_u = None
        dall = pred = None
    else:
        # vertex -> vertex: bitangent, visible
        vv_ok = _tangent(v, v, vp, vn, scene.tol) & _tangent(v, v, vp, vn, scene.tol).T
        np.fill_diagonal(vv_ok, False)
        iu, ju = np.nonzero(np.triu(vv_ok))
        vis = _visibility_matrix_pairs(v[iu], v[ju], scene, hulls)
        iu, ju = iu[vis], ju[vis]
        # point <-> vertex: tangent as seen from the point, visible
        pv_ok = _tangent(points, v, vp, vn, scene.tol) & free[:, None]
        pv_ok &= _visibility_matrix(points, v, scene, hulls)
        pi, vi = np.nonzero(pv_ok)
        d_pv = np.full((n, k), np.inf)
        d_pv[pi, vi] = np.hypot(*(points[pi] - v[vi]).T)
        # Dijkstra from the vertices over vertices (both ways) and vertex -> point edges
        w_vv = np.hypot(*(v[iu] - v[ju]).T)
        rows = np.concatenate([iu, ju, vi])
        cols = np.concatenate([ju, iu, k + pi])
        w = np.concatenate([w_vv, w_vv, d_pv[pi, vi]])
        w[w == 0] = 1e-300
        graph = csr_matrix((w, (rows, cols)), shape=(k + n, k + n))
        dall, pred = dijkstra(graph, directed=True, return_predecessors=True,
                              indices=np.arange(k))
        d_vp = dall[:, k:]                                           # (K, N)
        via = np.full((n, n), np.inf)
        via_u = np.full((n, n), -1, dtype=np.int64)
        for p in range(n):
            t = np.flatnonzero(np.isfinite(d_pv[p]))
            if len(t) == 0:
                continue
            tot = d_pv[p, t][:, None] + d_vp[t]
            best = np.argmin(tot, axis=0)
            via[p] = tot[best, np.arange(n)]
            via_u[p] = t[best]
        dist = np.where(vis_pp, direct, via)
    dist[~free, :] = np.inf
    dist[:, ~free] = np.inf
    np.fill_diagonal(dist, 0.0)
    nodes = np.vstack([v, points]) if k else points

    def path(i: int, j: int) -> np.ndarray:
        if vis_pp[i, j] or via_u is None or via_u[i, j] < 0:
            return points[[i, j]]
        u = int(via_u[i, j])
        tail = _walk(pred[u], nodes, u, k + j)
        return np.vstack([points[[i]], tail])

    return PathResult(dist, path)


def _visibility_matrix_pairs(a: np.ndarray, b: np.ndarray, scene: Scene, hulls: list[_Hull]
                             ) -> np.ndarray:
    """Visibility of segments a[i]-b[i] (pairwise, not all-by-all)."""
    vis = np.ones(len(a), dtype=bool)
    inexact = np.zeros(len(a), dtype=bool)
    for h in hulls:
        blk = _blocked_pairs(a, b, h.ring, scene.tol)
        if h.exact:
            vis &= ~blk
        else:
            inexact |= blk
    idx = np.flatnonzero(inexact & vis)
    if len(idx):
        vis[idx] = scene.visible(a[idx], b[idx])
    return vis


def _blocked_pairs(a: np.ndarray, b: np.ndarray, hull: np.ndarray, tol: float) -> np.ndarray:
    """Pairwise variant of :func:`_blocked_by_hull`."""
    out = np.zeros(len(a), dtype=bool)
    for s in range(0, len(a), 4096):
        aa, bb = a[s:s + 4096], b[s:s + 4096]
        rel = hull[None, :, :] - aa[:, None, :]
        toc = hull.mean(axis=0) - aa
        ang = np.arctan2(_cross(toc[:, None, :], rel), (toc[:, None, :] * rel).sum(-1))
        left, right = hull[np.argmax(ang, axis=1)], hull[np.argmin(ang, axis=1)]

        def hp(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
            d = p1 - p0
            nrm = np.hypot(d[:, 0], d[:, 1])
            nrm[nrm == 0] = 1.0
            return _cross(d, bb - p0) / nrm

        blk = (hp(aa, right) > tol) & (hp(left, aa) > tol) & (hp(right, left) < -tol)
        blk |= _inside_convex(aa, hull, tol)
        out[s:s + 4096] = blk
    return out


# ------------------------------------------------------------------------------------ router
@dataclass
class VisibilityRouter:
    """Router over a request's points (see ``costs.Router``)."""

    result: PathResult

    def distances(self) -> np.ndarray:
        return self.result.dist

    def path(self, i: int, j: int) -> np.ndarray:
        return self.result.path(i, j)


def shortest_paths(points: np.ndarray, scene: Scene, method: str = "fast") -> PathResult:
    if method == "baseline":
        return shortest_paths_baseline(points, scene)
    if method == "fast":
        return shortest_paths_fast(points, scene)
    raise ValueError(f"unknown visibility method {method!r}")


def drone_router(xy: np.ndarray, geofence: GeofenceSpec | None, projection: Projection,
                 method: str = "fast") -> VisibilityRouter:
    scene = make_scene(xy, geofence, projection)
    return VisibilityRouter(shortest_paths(xy, scene, method))
