"""Robot travel costs: shortest paths along a street network, or straight lines times a detour
factor when there is none.

The network is noded first (lines are split where they cross, endpoints closer than ``snap_m``
are merged), so two streets that cross or nearly meet are connected. Every query point is attached
to its nearest street point (the foot of the perpendicular on the nearest segment); the walk from
the point to the street is part of the cost."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from ground_control.planning.costs import StraightRouter
from ground_control.planning.geometry import Projection
from ground_control.planning.model import PlanRequest


@dataclass
class StreetGraph:
    nodes: np.ndarray          # (V, 2) metres
    seg: np.ndarray            # (S, 2) node indices of each street segment
    graph: csr_matrix


def build_street_graph(lines_xy: list[np.ndarray], snap_m: float = 1.0) -> StreetGraph:
    """Node the polylines at crossings and merge endpoints within ``snap_m``."""
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

    def __post_init__(self) -> None:
        a, b = self.net.nodes[self.net.seg[:, 0]], self.net.nodes[self.net.seg[:, 1]]
        tree = shapely.STRtree(shapely.linestrings(np.stack([a, b], axis=1)))
        s = tree.query_nearest(shapely.points(self.xy), return_distance=False, all_matches=False)[1]
        ab = b[s] - a[s]
        L2 = (ab ** 2).sum(1)
        t = np.clip(((self.xy - a[s]) * ab).sum(1) / np.where(L2 > 0, L2, 1.0), 0.0, 1.0)
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


def street_router(xy: np.ndarray, request: PlanRequest, projection: Projection):
    blocked = _blocked(xy, request, projection)
    if request.streets is None or not request.streets.lines:
        return StraightRouter(xy, factor=request.robot_detour_factor, blocked=blocked)
    lines = [projection.to_xy(line) for line in request.streets.lines]
    return StreetRouter(xy, build_street_graph(lines), blocked)
