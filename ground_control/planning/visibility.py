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
from scipy.spatial.distance import cdist

from ground_control.planning.geometry import Projection
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


#: how far inside the inclusion area's edge paths stay (metres)
INCLUSION_INSET_M = 0.05


def make_scene(xy_extent: np.ndarray, geofence: GeofenceSpec | None, projection: Projection,
               inset_m: float = INCLUSION_INSET_M) -> Scene:
    inclusion = None
    obstacles: list[shapely.Polygon] = []
    pool = [xy_extent]
    if geofence is not None:
        inc = projection.to_xy(geofence.inclusion)
        pool.append(inc)
        inclusion = shapely.make_valid(shapely.Polygon(inc))
        if inclusion.geom_type != "Polygon":     # a self-touching ring: keep its largest part
            inclusion = max(shapely.get_parts(inclusion), key=lambda g: g.area)
        if inset_m > 0:
            # paths may run along the area's edge (they bend at its concave corners): keep them
            # a hair inside, so a checker with another projection still sees them inside
            inset = inclusion.buffer(-inset_m, join_style="mitre")
            inclusion = max(shapely.get_parts(inset), key=lambda g: g.area) if not inset.is_empty \
                else inclusion
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


def _ring_vertices(scene: Scene, convex_only: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate bend vertices with their ring neighbours (prev, next), the index of the ring
    each comes from, and per ring whether it is non-convex.

    Obstacles: their convex vertices (all, unless ``convex_only``). Inclusion area: its reflex
    vertices (all, unless ``convex_only``) -- a concave boundary is an obstacle seen from inside.
    """
    verts, prevs, nexts, owners, concave = [], [], [], [], []
    rings = [(_ring(o), 1.0) for o in scene.obstacles]
    if scene.inclusion is not None:
        rings.append((_ring(scene.inclusion), -1.0))
    for r, (ring, sign) in enumerate(rings):
        prv, nxt = np.roll(ring, 1, axis=0), np.roll(ring, -1, axis=0)
        turn = _cross(ring - prv, nxt - ring)              # > 0: convex corner of a CCW ring
        concave.append(bool((turn < 0).any()))
        keep = sign * turn > 0 if convex_only else np.ones(len(ring), dtype=bool)
        verts.append(ring[keep]), prevs.append(prv[keep]), nexts.append(nxt[keep])
        owners.append(np.full(int(keep.sum()), r))
    if not verts:
        e = np.zeros((0, 2))
        return e, e, e, np.zeros(0, dtype=int), np.zeros(0, dtype=bool)
    v, p, n, o = np.vstack(verts), np.vstack(prevs), np.vstack(nexts), np.concatenate(owners)
    ok = scene.free(v) if len(v) else np.zeros(0, dtype=bool)
    return v[ok], p[ok], n[ok], o[ok], np.array(concave)


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
    v = _ring_vertices(scene, convex_only=False)[0]
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


def _pieces(poly: shapely.Polygon, tol: float) -> list[_Hull]:
    """Convex pieces to test against: the polygon itself when convex, else its constrained
    Delaunay triangles (exact), else (shapely < 2.1) its hull, confirmed with shapely."""
    hull = poly.convex_hull
    if abs(hull.area - poly.area) <= 1e-9 * max(hull.area, 1.0):
        return [_Hull(_ring(hull), True, hull)]
    if hasattr(shapely, "constrained_delaunay_triangles"):
        tris = shapely.get_parts(shapely.constrained_delaunay_triangles(poly))
        pieces = _merge_convex([t for t in tris if t.area > tol * tol], tol)
        return [_Hull(_ring(t), True, t) for t in pieces]
    return [_Hull(_ring(hull), False, hull)]


def _merge_convex(pieces: list[shapely.Polygon], tol: float) -> list[shapely.Polygon]:
    """Hertel-Mehlhorn style: join neighbouring pieces while the union stays convex. Fewer,
    larger pieces mean fewer half-plane tests (a 10-vertex star: 8 triangles -> ~3 pieces)."""
    pieces = list(pieces)
    merged = True
    while merged:
        merged = False
        for i in range(len(pieces)):
            for j in range(i + 1, len(pieces)):
                a, b = pieces[i], pieces[j]
                if a.intersection(b).length <= tol:        # must share an edge
                    continue
                u = shapely.union(a, b)
                if u.geom_type == "Polygon" and abs(u.convex_hull.area - u.area) <= 1e-9 * u.area:
                    pieces[i] = u.convex_hull
                    del pieces[j]
                    merged = True
                    break
            if merged:
                break
    return pieces


def _hulls(scene: Scene) -> list[_Hull]:
    """Everything a visible segment must not enter: obstacles, and the pockets between the
    inclusion area and its hull (a segment between two points inside the area leaves it only
    through a pocket)."""
    out = []
    for o in scene.obstacles:
        out += _pieces(o, scene.tol)
    if scene.inclusion is not None:
        pockets = scene.inclusion.convex_hull.difference(scene.inclusion)
        for part in shapely.get_parts(pockets):
            if part.geom_type == "Polygon" and part.area > scene.tol * scene.tol:
                out += _pieces(shapely.Polygon(part.exterior), scene.tol)
    return out


def _padded_rings(hulls: list[_Hull]) -> tuple[np.ndarray, np.ndarray]:
    """All rings in one (H, m, 2) array, short rings padded with their last vertex (harmless for
    tangents: a repeated vertex has a repeated angle), and which entries are real."""
    m = max(len(h.ring) for h in hulls)
    ring = np.empty((len(hulls), m, 2))
    valid = np.zeros((len(hulls), m), dtype=bool)
    for i, h in enumerate(hulls):
        k = len(h.ring)
        ring[i, :k], ring[i, k:] = h.ring, h.ring[-1]
        valid[i, :k] = True
    return ring, valid


def _pseudo_angle(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A strictly increasing function of ``arctan2(y, x)`` on (-pi, pi] (0 at the origin, as
    arctan2), for argmax/argmin: a division instead of an arctangent."""
    ax, ay = np.abs(x), np.abs(y)
    den = ax + ay
    r = y / np.where(den > 0, den, 1.0)                          # in [-1, 1]
    return np.where(x >= 0, r, np.where(y >= 0, 2.0, -2.0) - r)


#: sources per block in the (sources x pieces x vertices) computations: the temporaries stay
#: small enough for malloc to reuse them (large ones are mapped fresh and page-faulted each time,
#: which cost more than the arithmetic)
_BLOCK = 32


def _tangents_all(a: np.ndarray, ring: np.ndarray, centre: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """For every hull at once: (A, H, 2) left and right tangent vertices."""
    left = np.empty((len(a),) + ring.shape[:1] + (2,))
    right = np.empty_like(left)
    for s in range(0, len(a), _BLOCK):
        b = a[s:s + _BLOCK]
        # x and y apart: reductions over a length-2 axis are slow
        rx = ring[None, :, :, 0] - b[:, None, None, 0]           # (B, H, m)
        ry = ring[None, :, :, 1] - b[:, None, None, 1]
        tx = (centre[None, :, 0] - b[:, None, 0])[:, :, None]    # (B, H, 1)
        ty = (centre[None, :, 1] - b[:, None, 1])[:, :, None]
        ang = _pseudo_angle(tx * ry - ty * rx, tx * rx + ty * ry)
        hi = np.argmax(ang, axis=2)[..., None, None]
        lo = np.argmin(ang, axis=2)[..., None, None]
        full = np.broadcast_to(ring[None], (len(b),) + ring.shape)
        left[s:s + _BLOCK] = np.take_along_axis(full, hi, axis=2)[:, :, 0]
        right[s:s + _BLOCK] = np.take_along_axis(full, lo, axis=2)[:, :, 0]
    return left, right


def _inside_all(xy: np.ndarray, ring: np.ndarray, valid: np.ndarray, tol: float) -> np.ndarray:
    """(P, H): strictly inside each convex CCW ring (padding edges ignored)."""
    nxt = np.roll(ring, -1, axis=1)
    last = valid.sum(axis=1) - 1                                 # close each ring properly
    nxt[np.arange(len(ring)), last] = ring[:, 0]
    d = nxt - ring                                               # (H, m, 2)
    n = np.hypot(d[..., 0], d[..., 1])
    n = np.where(n == 0, 1.0, n)
    out = np.empty((len(xy), len(ring)), dtype=bool)
    for k in range(0, len(xy), _BLOCK):
        s = _cross(d[None], xy[k:k + _BLOCK, None, None, :] - ring[None]) / n[None]  # (B, H, m)
        s = np.where(valid[None], s, np.inf)
        out[k:k + _BLOCK] = (s > tol).all(axis=2)
    return out


def _line(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Coefficients (u, v, w) with u*x + v*y + w = signed distance of (x, y) to the directed line
    p0 -> p1, left positive."""
    d = p1 - p0
    n = np.hypot(d[..., 0], d[..., 1])
    n = np.where(n == 0, 1.0, n)
    u, v = -d[..., 1] / n, d[..., 0] / n
    return np.stack([u, v, -(u * p0[..., 0] + v * p0[..., 1])], axis=-1)


def _visibility_matrix(a: np.ndarray, b: np.ndarray, scene: Scene, hulls: list[_Hull],
                       chunk: int = 32) -> np.ndarray:
    """(len(a), len(b)) bool visibility.

    From a point outside a convex polygon, the segment to b enters it iff b lies strictly inside
    the cone spanned by the two tangent vertices and strictly beyond the chord joining them. The
    cone is an angular interval, so with the b's sorted by angle around a the candidates of each
    hull are one contiguous run (``searchsorted``); only those get the exact half-plane tests.
    Non-convex obstacles (and a non-convex inclusion area) only flag pairs through their hulls;
    those pairs are confirmed with shapely."""
    na, nb = len(a), len(b)
    vis = np.ones((na, nb), dtype=bool)
    if not hulls or nb == 0:
        return vis
    inexact = np.zeros((na, nb), dtype=bool)
    nh = len(hulls)
    exact = np.array([hl.exact for hl in hulls])
    ring, valid = _padded_rings(hulls)
    left, right = _tangents_all(a, ring, np.array([h.ring.mean(axis=0) for h in hulls]))
    inside = _inside_all(a, ring, valid, scene.tol)                     # (A, H)
    vis[(inside & exact).any(axis=1)] = False
    if not exact.all():
        # a non-convex obstacle's own vertices (and pocket corners) may lie inside its hull,
        # where the cone/chord argument does not hold: let shapely decide
        inexact[(inside & ~exact).any(axis=1)] = True
        inexact[:, (_inside_all(b, ring, valid, scene.tol) & ~exact).any(axis=1)] = True
    # angles around each a as pseudo-angles (see _pseudo_angle): period 4, no arctangent
    turn = 4.0
    all_exact = bool(exact.all())
    bx, by = np.ascontiguousarray(b[:, 0]), np.ascontiguousarray(b[:, 1])
    for s in range(0, na, chunk):
        aa = a[s:s + chunk]
        n = len(aa)
        th = _pseudo_angle(by[None, :] - aa[:, None, 1], bx[None, :] - aa[:, None, 0])
        order = np.argsort(th, axis=1)
        ths = np.take_along_axis(th, order, axis=1)
        off = 4 * turn * np.arange(n)[:, None]
        flat = (np.concatenate([ths, ths + turn], axis=1) + off).ravel()
        # per position in ``flat``: the b it is (as a flat index into this chunk's rows of vis)
        # and its coordinates, so a run's candidates are gathered straight from their positions
        order2 = np.concatenate([order, order], axis=1)
        qx_at, qy_at = bx[order2].ravel(), by[order2].ravel()
        cell_at = (order2 + (nb * np.arange(n))[:, None]).ravel()
        vis_c, inexact_c = vis[s:s + n].reshape(-1), inexact[s:s + n].reshape(-1)   # views
        lf, rt = left[s:s + n], right[s:s + n]                   # (n, H, 2)
        th_r = _pseudo_angle(rt[..., 1] - aa[:, None, 1], rt[..., 0] - aa[:, None, 0])
        th_l = _pseudo_angle(lf[..., 1] - aa[:, None, 1], lf[..., 0] - aa[:, None, 0])
        th_l = np.where(th_l < th_r, th_l + turn, th_l)
        # angular runs: well inside the cone (only the chord test can clear them) and the thin
        # bands at its edges (where the exact cone tests decide, with the same tolerance)
        eps = 1e-9
        r0 = np.searchsorted(flat, (th_r + off - eps).ravel())
        r1 = np.searchsorted(flat, (th_r + off + eps).ravel(), side="right")
        l0 = np.searchsorted(flat, (th_l + off - eps).ravel())
        l1 = np.searchsorted(flat, (th_l + off + eps).ravel(), side="right")
        r1 = np.minimum(r1, l1)
        l0 = np.maximum(l0, r1)
        pa = np.broadcast_to(aa[:, None, :], rt.shape)
        # left of the chord = beyond it, seen from a; coefficients as contiguous columns
        chord = np.ascontiguousarray(_line(lf, rt).reshape(n * nh, 3).T)
        for lo, hi, edge in ((r1, l0, False), (r0, r1, True), (l0, l1, True)):
            cnt = np.maximum(hi - lo, 0)
            total = int(cnt.sum())
            if total == 0:
                continue
            # the run positions lo[k]..hi[k]-1 of every (a, hull) pair k, back to back
            idx = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)
            qx, qy = qx_at[idx], qy_at[idx]
            cu, cv, cw = (np.repeat(c, cnt) for c in chord)
            blk = cu * qx + cv * qy + cw > scene.tol
            if edge or not all_exact:
                k = np.repeat(np.arange(len(cnt)), cnt)
            if edge:
                cr = _line(pa, rt).reshape(n * nh, 3)[k]
                cl = _line(lf, pa).reshape(n * nh, 3)[k]
                blk &= cr[:, 0] * qx + cr[:, 1] * qy + cr[:, 2] > scene.tol
                blk &= cl[:, 0] * qx + cl[:, 1] * qy + cl[:, 2] > scene.tol
            cell = cell_at[idx[blk]]
            if all_exact:
                vis_c[cell] = False
            else:
                ex = exact[k[blk] % nh]
                vis_c[cell[ex]] = False
                inexact_c[cell[~ex]] = True
    ii, jj = np.nonzero(inexact & vis)
    if len(ii):
        vis[ii, jj] = scene.visible(a[ii], b[jj])
    return vis


def _visible_pairs(src: np.ndarray, ai: np.ndarray, b: np.ndarray, scene: Scene,
                   hulls: list[_Hull], chunk: int = 4096) -> np.ndarray:
    """Bool per segment src[ai[i]] - b[i]: :func:`_visibility_matrix`'s rule (inside the cone
    of a convex piece's tangents and beyond their chord = blocked, same half-planes, same
    tolerance; shapely for inexact pieces) for a sparse set of pairs, every piece tested
    directly instead of through angular runs. For the few pairs a path may use (bitangents)."""
    m = len(ai)
    vis = np.ones(m, dtype=bool)
    if not hulls or m == 0:
        return vis
    exact = np.array([hl.exact for hl in hulls])
    ring, valid = _padded_rings(hulls)
    left, right = _tangents_all(src, ring, np.array([h.ring.mean(axis=0) for h in hulls]))
    inside = _inside_all(src, ring, valid, scene.tol)                   # (A, H)
    pa = np.broadcast_to(src[:, None, :], right.shape)
    # the three lines per (source, piece) as nine contiguous (A, H) coefficient arrays
    coef = [np.ascontiguousarray(c) for ln in (_line(lf, rt) for lf, rt in
                                               ((left, right), (pa, right), (left, pa)))
            for c in np.moveaxis(ln, -1, 0)]
    vis[(inside & exact).any(axis=1)[ai]] = False
    inexact = np.zeros(m, dtype=bool)
    if not exact.all():
        inexact |= (inside & ~exact).any(axis=1)[ai]
        inexact |= (_inside_all(b, ring, valid, scene.tol) & ~exact).any(axis=1)
    for s in range(0, m, chunk):
        i = ai[s:s + chunk]
        qx, qy = b[s:s + chunk, 0, None], b[s:s + chunk, 1, None]
        blk = np.ones((len(i), len(hulls)), dtype=bool)
        for u, v, w in (coef[0:3], coef[3:6], coef[6:9]):
            blk &= u[i] * qx + v[i] * qy + w[i] > scene.tol
        vis[s:s + chunk] &= ~(blk & exact).any(axis=1)
        inexact[s:s + chunk] |= (blk & ~exact).any(axis=1)
    idx = np.flatnonzero(inexact & vis)
    if len(idx):
        vis[idx] = scene.visible(src[ai[idx]], b[idx])
    return vis


def _visibility_symmetric(x: np.ndarray, scene: Scene, hulls: list[_Hull],
                          extra: np.ndarray | None = None, step: int = 256):
    """Visibility among the points ``x`` (and from them to ``extra``, if given): each row block
    only against the points from the block on, as visibility is symmetric."""
    n = len(x)
    ext = np.zeros((0, 2)) if extra is None else extra
    vis_xx = np.ones((n, n), dtype=bool)
    vis_xe = np.ones((n, len(ext)), dtype=bool)
    for s in range(0, n, step):
        e = min(n, s + step)
        blk = _visibility_matrix(x[s:e], np.vstack([x[s:], ext]), scene, hulls)
        vis_xx[s:e, s:] = blk[:, :n - s]
        vis_xe[s:e] = blk[:, n - s:]
    vis_xx &= vis_xx.T
    return vis_xx if extra is None else (vis_xx, vis_xe)


def _tangent(p: np.ndarray, v: np.ndarray, prv: np.ndarray, nxt: np.ndarray, tol: float,
             chunk: int = 128) -> np.ndarray:
    """(P, V) bool: seen from p, both ring neighbours of v lie on one side of line p-v, so a
    shortest path may bend at v (touching it or passing through p itself counts)."""
    out = np.empty((len(p), len(v)), dtype=bool)
    (px, py), (nx, ny) = (prv - v).T, (nxt - v).T
    for s in range(0, len(p), chunk):           # row blocks: small temporaries, reused memory
        q = p[s:s + chunk]
        dx, dy = v[None, :, 0] - q[:, None, 0], v[None, :, 1] - q[:, None, 1]
        n = np.hypot(dx, dy)
        n[n == 0] = 1.0
        s1 = (dx * py - dy * px) / n
        s2 = (dx * ny - dy * nx) / n
        out[s:s + chunk] = (s1 * s2 >= -tol * tol) | (n <= tol)
    return out


def _min_plus_sparse(d_pv: np.ndarray, d_vp: np.ndarray, symmetric: bool = False) -> np.ndarray:
    """via[p, q] = min_u d_pv[p, u] + d_vp[u, q] over the finite entries of each row of d_pv
    (a point sees ~2 tangent vertices per obstacle, far fewer than all of them).
    One row at a time on purpose: the (tangents x N) block stays in cache, which measured 5-10x
    faster than batching rows into one big reduceat. ``symmetric``: compute the upper triangle."""
    n = d_pv.shape[0]
    d_vp = np.ascontiguousarray(d_vp)          # row gathers from a transposed view are strided
    via = np.full((n, d_vp.shape[1]), np.inf)
    finite = np.isfinite(d_pv)
    for p in range(n):
        t = np.flatnonzero(finite[p])
        if len(t) == 0:
            continue
        c0 = p if symmetric else 0
        blk = d_vp[t, c0:]                     # a fresh copy: add in place
        blk += d_pv[p, t][:, None]
        blk.min(axis=0, out=via[p, c0:])
    if symmetric:                              # mirror the upper triangle, block by block
        for s in range(0, n, 256):
            e = min(n, s + 256)
            via[s:e, :s] = via[:s, s:e].T
            diag = via[s:e, s:e]
            np.minimum(diag, diag.T.copy(), out=diag)
    return via


def shortest_paths_fast(points: np.ndarray, scene: Scene) -> PathResult:
    n = len(points)
    free = scene.free(points)
    hulls = _hulls(scene)
    v, vp, vn, owner, concave = _ring_vertices(scene, convex_only=True)
    k = len(v)
    direct = cdist(points, points)
    # point rows against (points from the row on, vertices): visibility is symmetric
    vis_pp, vis_pv = _visibility_symmetric(points, scene, hulls, v)
    if k == 0:
        dist = np.where(vis_pp, direct, np.inf)
    else:
        # vertex -> vertex: bitangent, visible
        vv_ok = _tangent(v, v, vp, vn, scene.tol)
        vv_ok &= vv_ok.T
        np.fill_diagonal(vv_ok, False)
        vv_ok = np.triu(vv_ok)
        ii, jj = np.nonzero(vv_ok)                  # bitangents: few, tested one by one
        vv_ok[ii, jj] = _visible_pairs(v, ii, v[jj], scene, hulls)
        vv_ok |= vv_ok.T
        # two corners of one non-convex ring may be joined by an internal diagonal of its
        # triangulation, which touches no triangle's interior: those few pairs go to shapely
        ii, jj = np.nonzero(np.triu(vv_ok & (owner[:, None] == owner[None, :])
                                    & concave[owner][:, None]))
        if len(ii):
            ok = scene.visible(v[ii], v[jj])
            vv_ok[ii, jj] = ok
            vv_ok[jj, ii] = ok
        iu, ju = np.nonzero(np.triu(vv_ok))
        # point <-> vertex: tangent as seen from the point, visible
        pv_ok = _tangent(points, v, vp, vn, scene.tol) & free[:, None] & vis_pv
        pi, vi = np.nonzero(pv_ok)
        d_pv = np.full((n, k), np.inf)
        d_pv[pi, vi] = np.hypot(*(points[pi] - v[vi]).T)
        # all-pairs among the vertices (a small graph), then min-plus products on each side:
        # d_vp[u, q] = min_v D[u, v] + d(v, q);  via[p, q] = min_u d(p, u) + d_vp[u, q]
        w_vv = np.hypot(*(v[iu] - v[ju]).T)
        w_vv[w_vv == 0] = 1e-300
        graph = csr_matrix((w_vv, (iu, ju)), shape=(k, k))
        d_vv, pred = dijkstra(graph, directed=False, return_predecessors=True)
        d_vp = _min_plus_sparse(d_pv, d_vv).T                       # (K, N)
        via = _min_plus_sparse(d_pv, d_vp, symmetric=True)
        np.copyto(via, direct, where=vis_pp)       # in place: no other n x n array
        dist = via
    dist[~free, :] = np.inf
    dist[:, ~free] = np.inf
    np.fill_diagonal(dist, 0.0)

    def path(i: int, j: int) -> np.ndarray:
        if vis_pp[i, j] or k == 0 or not np.isfinite(dist[i, j]):
            return points[[i, j]]
        t = np.flatnonzero(np.isfinite(d_pv[i]))
        u = int(t[np.argmin(d_pv[i, t] + d_vp[t, j])])
        t = np.flatnonzero(np.isfinite(d_pv[j]))
        w = int(t[np.argmin(d_vv[u, t] + d_pv[j, t])])
        return np.vstack([points[[i]], _walk(pred[u], v, u, w), points[[j]]])

    return PathResult(dist, path)


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
