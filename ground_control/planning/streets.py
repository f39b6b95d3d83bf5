"""Robot travel costs: shortest paths along a street network, or, without one, the drone
visibility paths (around the buffered exclusion zones, inside the area) times a detour factor.

Exclusion zones bind robots too (the edge agent checks every leg of every vehicle). Without
streets a robot gets the same shortest paths as a drone (same safety margin), lengths scaled by
``robot_detour_factor`` and the visibility waypoints as its legs. With streets, the network is
noded first (lines are split where they cross, endpoints closer than ``snap_m`` are merged), so
two streets that cross or nearly meet are connected; then every street segment that enters the
interior of an exclusion zone or leaves the inclusion area is dropped (whole: split long streets
at zone edges in the data if the part outside matters). Every query point is attached to its
nearest street point whose access walk (straight, part of the cost) is clear as well; a point
with no such street point is unreachable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from ground_control.planning.costs import Router, StraightRouter
from ground_control.planning.geometry import Projection
from ground_control.planning.model import PlanRequest


@dataclass
class StreetGraph:
    nodes: np.ndarray          # (V, 2) metres
    seg: np.ndarray            # (S, 2) node indices of each street segment
    graph: csr_matrix


#: bool per segment a[i]-b[i]: may a robot drive or walk it (see ``_clear_fn``)
Clear = Callable[[np.ndarray, np.ndarray], np.ndarray]


def build_street_graph(lines_xy: list[np.ndarray], snap_m: float = 1.0,
                       clear: Clear | None = None) -> StreetGraph:
    """Node the polylines at crossings and merge endpoints within ``snap_m``; keep only the
    segments ``clear`` allows (tested after snapping, on the final node positions)."""
    geoms = [shapely.linestrings(l) for l in lines_xy if len(l) >= 2]
    noded = shapely.unary_union(geoms)
    coords = [np.asarray(g.coords) for g in shapely.get_parts(noded)]
    allpts = np.vstack(coords)
    # merge coincident / nearly-coincident vertices (union-find over close pairs)
    tree = cKDTree(allpts)
    pairs = tree.query_pairs(snap_m, output_type="ndarray")
    m = len(allpts)
    adj = csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
    _, label = connected_components(adj, directed=False)
    uniq, inv = np.unique(label, return_inverse=True)
    nodes = np.zeros((len(uniq), 2))
    np.add.at(nodes, inv, allpts)
    nodes /= np.bincount(inv)[:, None]
    segs, start = [], 0
    for c in coords:
        ids = inv[start:start + len(c)]
        segs.append(np.column_stack([ids[:-1], ids[1:]]))
        start += len(c)
    seg = np.vstack(segs)
    seg = seg[seg[:, 0] != seg[:, 1]]
    seg = np.unique(np.sort(seg, axis=1), axis=0)
    if clear is not None and len(seg):
        seg = seg[clear(nodes[seg[:, 0]], nodes[seg[:, 1]])]
    w = np.hypot(*(nodes[seg[:, 0]] - nodes[seg[:, 1]]).T)
    n = len(nodes)
    graph = csr_matrix((np.concatenate([w, w]), (np.concatenate([seg[:, 0], seg[:, 1]]),
                                                   np.concatenate([seg[:, 1], seg[:, 0]]))),
                       shape=(n, n))
    return StreetGraph(nodes, seg, graph)


@dataclass
class StreetRouter:
    """Shortest street paths among query points (see ``costs.Router``)."""

    xy: np.ndarray
    net: StreetGraph
    blocked: np.ndarray | None = None
    clear: Clear | None = field(default=None, repr=False)   # access walks must pass it too

    def __post_init__(self) -> None:
        a, b = self.net.nodes[self.net.seg[:, 0]], self.net.nodes[self.net.seg[:, 1]]
        tree = shapely.STRtree(shapely.linestrings(np.stack([a, b], axis=1)))
        s = tree.query_nearest(shapely.points(self.xy), return_distance=False, all_matches=False)[1]
        if self.clear is not None:
            blocked = np.zeros(len(self.xy), dtype=bool) if self.blocked is None \
                else self.blocked.copy()
            for i in np.flatnonzero(~self.clear(self.xy, _foot(self.xy, a[s], b[s])[1])):
                if blocked[i]:
                    continue
                # nearest street point with a clear walk to it (rare: a zone in between)
                here = np.repeat(self.xy[i:i + 1], len(a), axis=0)
                feet = _foot(here, a, b)[1]
                order = np.argsort(np.hypot(*(feet - here).T), kind="stable")
                ok = np.flatnonzero(self.clear(here[order], feet[order]))
                if len(ok):
                    s[i] = order[ok[0]]
                else:
                    blocked[i] = True
            self.blocked = blocked
        ab = b[s] - a[s]
        L2 = (ab ** 2).sum(1)
        t = _foot(self.xy, a[s], b[s])[0]
        self.seg_of = s
        self.t = t
        self.foot = a[s] + t[:, None] * ab
        self.access = np.hypot(*(self.xy - self.foot).T)
        seglen = np.sqrt(L2)
        ends = np.unique(self.net.seg[s].ravel())
        d, pred = dijkstra(self.net.graph, directed=False, indices=ends, return_predecessors=True)
        self._row = {int(e): r for r, e in enumerate(ends)}
        self._pred = pred
        # distance from each query point's foot to both ends of its segment
        ea, eb = self.net.seg[s, 0], self.net.seg[s, 1]
        to_a, to_b = t * seglen, (1 - t) * seglen
        ra = np.array([self._row[int(e)] for e in ea])
        rb = np.array([self._row[int(e)] for e in eb])
        # via[i, j]: min over end of i (ei) and end of j (ej) of foot_i->ei + d(ei, ej) + ej->foot_j
        da_a = d[ra][:, ea]; da_b = d[ra][:, eb]; db_a = d[rb][:, ea]; db_b = d[rb][:, eb]
        opts = np.stack([to_a[:, None] + da_a + to_a[None, :], to_a[:, None] + da_b + to_b[None, :],
                         to_b[:, None] + db_a + to_a[None, :], to_b[:, None] + db_b + to_b[None, :]])
        self._choice = opts.argmin(0)
        via = opts.min(0)
        same = s[:, None] == s[None, :]
        along = np.abs(t[:, None] - t[None, :]) * seglen[:, None]
        self._along = same & (along <= via)
        via = np.where(self._along, along, via)
        dist = self.access[:, None] + via + self.access[None, :]
        if self.blocked is not None:
            dist[self.blocked, :] = np.inf
            dist[:, self.blocked] = np.inf
        np.fill_diagonal(dist, 0.0)
        self._d = dist
        self._ends = (ea, eb)

    def distances(self) -> np.ndarray:
        return self._d

    def path(self, i: int, j: int) -> np.ndarray:
        head = [self.xy[i], self.foot[i]]
        tail = [self.foot[j], self.xy[j]]
        if self._along[i, j]:
            return np.array(head + tail)
        c = int(self._choice[i, j])
        ei = (self._ends[0] if c in (0, 1) else self._ends[1])[i]
        ej = (self._ends[0] if c in (0, 2) else self._ends[1])[j]
        pred = self._pred[self._row[int(ei)]]
        seq = [int(ej)]
        while seq[-1] != ei and pred[seq[-1]] >= 0:
            seq.append(int(pred[seq[-1]]))
        mid = list(self.net.nodes[seq[::-1]])
        return np.array(head + mid + tail)


def _foot(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position t in [0, 1] and point of the foot of p[i] on segment a[i]-b[i]."""
    ab = b - a
    L2 = (ab ** 2).sum(1)
    t = np.clip(((p - a) * ab).sum(1) / np.where(L2 > 0, L2, 1.0), 0.0, 1.0)
    return t, a + t[:, None] * ab


@dataclass
class DetourRouter:
    """Another router's paths, their lengths times ``factor`` (robots without streets)."""

    inner: Router
    factor: float
    _d: np.ndarray | None = field(default=None, init=False, repr=False)

    def distances(self) -> np.ndarray:
        if self._d is None:
            self._d = self.inner.distances() * self.factor
        return self._d

    def path(self, i: int, j: int) -> np.ndarray:
        return self.inner.path(i, j)


def _clear_fn(request: PlanRequest, projection: Projection) -> Clear | None:
    """The edge agent's rule for a segment, in metres: covered by the inclusion area (its edge
    counts as inside), no point in the interior of an exclusion zone (touching is allowed)."""
    g = request.geofence
    if g is None:
        return None
    inc = shapely.Polygon(projection.to_xy(g.inclusion))
    zones = np.array([shapely.Polygon(projection.to_xy(ex)) for ex in g.exclusions], dtype=object)
    tree = shapely.STRtree(zones)
    shapely.prepare(inc)

    def clear(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        same = (a == b).all(axis=1)
        geoms = shapely.linestrings(np.stack([a, b], axis=1))
        geoms[same] = shapely.points(a[same])
        ok = shapely.covered_by(geoms, inc)
        hit = tree.query(geoms, predicate="intersects")
        if hit.shape[1]:
            cross = shapely.relate_pattern(geoms[hit[0]], zones[hit[1]], "T********")
            ok[hit[0][cross]] = False
        return ok

    return clear


def _blocked(xy: np.ndarray, request: PlanRequest, projection: Projection) -> np.ndarray | None:
    """Robots obey the geofence too: a drop-off outside the area or in a zone is unreachable."""
    g = request.geofence
    if g is None:
        return None
    pts = shapely.points(xy)
    inc = shapely.Polygon(projection.to_xy(g.inclusion))
    out = ~shapely.covered_by(pts, inc.buffer(1e-6))
    for ex in g.exclusions:
        out |= shapely.intersects(pts, shapely.Polygon(projection.to_xy(ex)).buffer(-1e-6))
    return out


def street_router(xy: np.ndarray, request: PlanRequest, projection: Projection) -> Router:
    if request.streets is None or not request.streets.lines:
        if request.geofence is None:
            return StraightRouter(xy, factor=request.robot_detour_factor)
        from ground_control.planning.visibility import drone_router
        return DetourRouter(drone_router(xy, request.geofence, projection),
                            request.robot_detour_factor)
    blocked = _blocked(xy, request, projection)
    clear = _clear_fn(request, projection)
    lines = [projection.to_xy(line) for line in request.streets.lines]
    net = build_street_graph(lines, clear=clear)
    if len(net.seg) == 0:           # every street is closed: nothing reachable
        return StraightRouter(xy, blocked=np.ones(len(xy), dtype=bool))
    return StreetRouter(xy, net, blocked, clear)
