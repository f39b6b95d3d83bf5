"""The optimising planner: the request becomes one PyVRP problem, solved for a time limit.

Modelling choices (the why):

* One location per hub and per drop-off; one routing profile per (vehicle kind, speed, set of
  parcels the group may not serve). Drones and robots differ in distances (visibility graph vs
  streets), vehicles in durations (speed), hubs in which parcels they hold.
* A parcel leaves only from its hub (or ``alt_hub_ids``): in the profiles of other hubs' vehicles
  every edge into it costs a prohibitive distance, above any prize, so the solver never uses it.
  This keeps one model for all hubs (the solver balances them in one time budget; multi-depot
  instances where parcels may leave from any hub need exactly this), instead of one solve per hub.
* Vehicles with identical specs at one hub form one vehicle type (``num_available``).
* A vehicle with committed stops gets its own type that starts at a depot placed at its last
  committed drop-off, at the time it gets there, with the payload, range and shift it has left;
  its committed prefix is prepended afterwards. The solver cannot reorder what is under way.
* Parcels are optional with a prize of ``priority`` x (more than serving any parcel can cost), so
  a feasible parcel is dropped only when capacity runs out. ``optional=False`` makes them required
  (benchmarks, where every client must be served).
* Objective (``PlanRequest.objective``): each vehicle type carries its own prices as PyVRP
  vehicle-type costs: ``fixed_cost`` per trip, ``unit_distance_cost`` on geometric metres
  (``cost_per_km``) and, under the ``time`` objective, ``unit_duration_cost`` (``cost_per_hour``
  plus the customers' waiting approximated per second of route duration, see
  ``objective.waiting_rate_per_s``). A drone's climbs and hovers are range, not distance: for a
  drone with a stop limit the per-stop overhead is taken off its ``max_distance`` for every stop
  it may still make (exact for one-bay drones, the default; on the safe side for multi-bay ones),
  so a drone's kilometre is priced like any other. Drones without a stop limit keep the overhead
  in their distance matrix (range exact, overhead priced as distance).
* PyVRP works in integers: distances in ``distance_unit_m`` (default 1 m), durations in
  ``time_unit_s`` (1 s), weights in grams, costs scaled to integers (``cost_scale``, automatic).
  ``rounding`` is ``"round"`` or ``"trunc"`` (DIMACS convention: truncate at the unit).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyvrp
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

from ground_control.planning.cost_cache import CostCache
from ground_control.planning.costs import TravelCosts, build_costs
from ground_control.planning.energy import FlightProfile
from ground_control.planning.feasibility import parcel_hubs, prepare, within_time
from ground_control.planning.model import (
    ObjectiveKind, ParcelSpec, Plan, PlanRequest, Route, UnplannedReason, VehicleSpec,
)
from ground_control.planning.objective import waiting_cost, waiting_rate_per_s
from ground_control.planning.routes import build_route, route_cost

_INT_MAX = np.iinfo(np.int64).max
#: stop capacity of a vehicle without a stop limit: more than any route can hold
_STOPS_UNLIMITED = 1_000_000


@dataclass
class _Group:
    """Vehicles that share one PyVRP vehicle type."""

    vehicles: list[VehicleSpec]
    start_loc: int
    end_loc: int
    committed: list[ParcelSpec]


class PyVRPPlanner:
    """Heterogeneous fleet, capacity, range, time windows, several hubs, prizes (see module)."""

    def __init__(self, time_limit_s: float | None = None, seed: int | None = None,
                 drone_router: str = "fast", distance_unit_m: float = 1.0,
                 time_unit_s: float = 1.0, rounding: str = "round", optional: bool = True,
                 cost_scale: float | None = None, weight_unit_kg: float = 0.001,
                 max_iterations: int | None = None, flight: FlightProfile | None = None,
                 safe_times: bool = True, cache: CostCache | None = None,
                 shortlist_factor: float | None = 3.0) -> None:
        """``shortlist_factor``: with optional parcels, offer the solver at most this many times
        the drops the fleet can make in one trip each (see :func:`shortlist`); None: all.
        ``cache``: travel costs kept between passes (dispatch keeps one per planner).
        ``time_limit_s`` is the search's: building the travel costs is not charged to it.
        ``safe_times``: round travel and service times up and latest times down so no window is
        missed by rounding (off: the ``rounding`` rule for times too, as benchmark instances define
        them). ``max_iterations``: also stop after that many search iterations. The clock alone makes
        runs depend on machine load; with a cap that is reached first, the same seed gives the
        same plan on any machine."""
        if rounding not in ("round", "trunc"):
            raise ValueError("rounding must be 'round' or 'trunc'")
        self.time_limit_s, self.seed = time_limit_s, seed
        self.drone_router = drone_router
        self.distance_unit_m, self.time_unit_s = distance_unit_m, time_unit_s
        self.rounding, self.optional = rounding, optional
        self.cost_scale, self.weight_unit_kg = cost_scale, weight_unit_kg
        self.max_iterations = max_iterations
        self.flight = flight
        self.safe_times = safe_times
        self.cache = cache
        self.shortlist_factor = shortlist_factor

    # ------------------------------------------------------------------------------ plan
    def plan(self, request: PlanRequest, costs: TravelCosts | None = None) -> Plan:
        t0 = time.perf_counter()
        if costs is None and self.cache is not None:
            costs = self.cache.costs(request, self.drone_router, self.flight)
        elif costs is None:
            costs = build_costs(request, self.drone_router, self.flight)
        t_model = time.perf_counter()     # the travel costs are not charged to the time limit
        costs, prefixes, sc = prepare(request, costs, self.drone_router, self.flight)
        parcels = [p for p in request.parcels if p.parcel_id in sc.candidates]
        unplanned = dict(sc.unplanned)
        vehicles = [v for v in request.vehicles if v.available]
        if self.optional and self.shortlist_factor:
            parcels, left_out = shortlist(parcels, vehicles, costs, self.shortlist_factor)
            unplanned.update({p.parcel_id: UnplannedReason.not_selected for p in left_out})
        if not parcels and not prefixes:
            return Plan(routes=(), unplanned=unplanned, cost=0.0, solve_s=time.perf_counter() - t0)

        groups = self._groups(vehicles, prefixes, costs)
        data, client_parcels, type_groups = self._problem(request, costs, parcels, groups,
                                                          sc.candidates)
        limit = self.time_limit_s if self.time_limit_s is not None else request.time_limit_s
        seed = self.seed if self.seed is not None else request.seed
        remaining = max(0.05, limit - (time.perf_counter() - t_model))
        stop = MaxRuntime(remaining)
        if self.max_iterations is not None:
            stop = MultipleCriteria([stop, MaxIterations(self.max_iterations)])
        result = pyvrp.solve(data, stop=stop, seed=seed, collect_stats=False, display=False,
                             params=_params(data))

        routes: list[Route] = []
        served: set[str] = set()
        used: dict[int, int] = defaultdict(int)
        free_departs: dict[str, float] = {}    # vehicles with no committed stops: departure
        obj = request.objective
        busy = set()
        for r in result.best.routes():
            g = type_groups[r.vehicle_type()]
            v = g.vehicles[used[r.vehicle_type()]]
            used[r.vehicle_type()] += 1
            seq = [client_parcels[a.idx] for a in r if a.is_client()]
            depart = 0.0 if g.committed else r.start_time() * self.time_unit_s
            if not r.is_feasible() or not all(self._allowed(v, p, sc.candidates) for p in seq):
                seq = self._repair(v, g.committed, seq, sc.candidates, costs, request, depart)
            stops = g.committed + seq
            if not stops:
                continue
            busy.add(v.vehicle_id)
            route = build_route(v, v.hub_id, stops, costs, depart)
            if obj.kind is ObjectiveKind.time and not g.committed and len(seq) > 1:
                route = _kinder_direction(v, route, seq, costs, request, depart)
            routes.append(route)
            served.update(p.parcel_id for p in seq)
            if not g.committed:
                free_departs[v.vehicle_id] = depart
        for g in type_groups:                      # committed vehicles the solver left idle
            if g.committed and g.vehicles[0].vehicle_id not in busy:
                v = g.vehicles[0]
                route = build_route(v, v.hub_id, g.committed, costs)
                routes.append(route)
        for p in parcels:
            if p.parcel_id not in served:
                unplanned[p.parcel_id] = UnplannedReason.not_selected
        by_id = {p.parcel_id: p for p in request.parcels}
        if obj.kind is ObjectiveKind.time:
            idle = [v for v in vehicles if v.vehicle_id not in busy and v.vehicle_id not in prefixes]
            routes = _split_onto_idle(routes, free_departs, idle, sc.candidates, costs, request)
        vspec = {v.vehicle_id: v for v in vehicles}
        cost = sum(route_cost(vspec[r.vehicle_id], r, obj) for r in routes)
        waiting = sum(waiting_cost(r, by_id, obj) for r in routes)
        return Plan(routes=tuple(routes), unplanned=unplanned, cost=cost + waiting,
                    solve_s=time.perf_counter() - t0, waiting_cost=waiting)

    # --------------------------------------------------------------------------- building
    @staticmethod
    def _groups(vehicles: list[VehicleSpec], prefixes: dict[str, list[ParcelSpec]],
                costs: TravelCosts) -> list[_Group]:
        by_key: dict[tuple, _Group] = {}
        out: list[_Group] = []
        for v in vehicles:
            hub = costs.hub_index[v.hub_id]
            pre = prefixes.get(v.vehicle_id)
            if pre:
                last = costs.parcel_index[pre[-1].parcel_id]
                out.append(_Group([v], last, hub, pre))
                continue
            key = (v.kind, v.hub_id, v.payload_kg, v.max_distance_m, v.speed_mps, v.fixed_cost,
                   v.cost_per_km, v.cost_per_hour, v.max_duration_s, v.max_stops, v.ready_s)
            if key in by_key:
                by_key[key].vehicles.append(v)
            else:
                by_key[key] = _Group([v], hub, hub, [])
                out.append(by_key[key])
        return out

    def _units(self, x: np.ndarray | float, unit: float) -> np.ndarray:
        """Metres/seconds -> solver integers (inf stays inf)."""
        y = np.asarray(x, dtype=float) / unit
        y = np.floor(y + 1e-9) if self.rounding == "trunc" else np.round(y)
        return y

    def _time(self, x: np.ndarray | float, unit: float, up: bool) -> np.ndarray:
        """Seconds -> solver integers so a window is never missed by rounding: travel and service
        times (and earliest starts) up, latest times down. The DIMACS convention (``trunc``)
        keeps its own rule: benchmark instances define their times that way."""
        if self.rounding == "trunc" or not self.safe_times:
            return self._units(x, unit)
        y = np.asarray(x, dtype=float) / unit
        return np.ceil(y - 1e-9) if up else np.floor(y + 1e-9)

    def _problem(self, request: PlanRequest, costs: TravelCosts, parcels: list[ParcelSpec],
                 groups: list[_Group], candidates: dict[str, list[VehicleSpec]]
                 ) -> tuple[pyvrp.ProblemData, list[ParcelSpec], list[_Group]]:
        du, tu = self.distance_unit_m, self.time_unit_s
        # locations: every hub, every candidate parcel, every committed vehicle's last stop
        nodes = sorted({*costs.hub_index.values(), *(costs.parcel_index[p.parcel_id]
                                                     for p in parcels),
                        *(g.start_loc for g in groups)})
        loc_of = {n: i for i, n in enumerate(nodes)}
        locations = [pyvrp.Location(x=float(costs.xy[n, 0]), y=float(costs.xy[n, 1]))
                     for n in nodes]
        horizon = request.horizon_s
        h_late = int(self._time(horizon, tu, up=False)) if horizon is not None else _INT_MAX

        depots: list[pyvrp.Depot] = []
        depot_of: dict[int, int] = {}
        for n in sorted({g.end_loc for g in groups} | {g.start_loc for g in groups}):
            depot_of[n] = len(depots)
            depots.append(pyvrp.Depot(location=loc_of[n], tw_late=h_late))

        # integer costs: scale so unit costs keep their resolution
        unit_costs = [v.cost_per_km / 1000.0 * du for g in groups for v in g.vehicles[:1]]
        fixed_costs = [v.fixed_cost for g in groups for v in g.vehicles[:1]]
        dur_costs = [self._duration_rate(g.vehicles[0], request, parcels) * tu for g in groups]
        scale = self.cost_scale or _auto_scale(unit_costs + fixed_costs + dur_costs)

        # profiles: (kind, speed, parcels not allowed) -> index
        dist_m = {k: costs.dist(k)[np.ix_(nodes, nodes)] for k in costs.routers}
        finite = [d[np.isfinite(d)] for d in dist_m.values()]
        max_d = max((float(f.max()) for f in finite if f.size), default=1.0)
        # a drone's per-route and per-stop overheads are priced like distance: the prize must
        # cover them too, or a cheap-looking but overhead-heavy parcel would be dropped
        max_oh = max((sum(costs.overheads(g.vehicles[0])) for g in groups), default=0.0)
        max_du = float(self._units(max_d + max_oh, du)) + 1
        client_loc = [loc_of[costs.parcel_index[p.parcel_id]] for p in parcels]
        hub_loc = [loc_of[h] for h in costs.hub_index.values()]
        max_prio = max((p.priority for p in parcels), default=1)
        # the longest a detour to one parcel can take: there and back at the slowest speed,
        # plus its service and a drone's per-stop climbs and hover
        slowest = min((g.vehicles[0].speed_mps for g in groups), default=1.0)
        max_serve_s = (2 * (max_d + max_oh) / slowest
                       + max((p.service_s for p in parcels), default=0.0))
        prize_unit = 2 * (max(fixed_costs, default=0) * scale
                          + max(unit_costs, default=0) * scale * 2 * max_du
                          + max(dur_costs, default=0) * scale * max_serve_s / tu) + 1
        big = int(min(max(4 * max_prio * prize_unit / max(min(unit_costs) * scale, 1e-9),
                          10 * max_du * len(nodes)), 2 ** 40))
        can = [{c.vehicle_id for c in candidates[p.parcel_id]} for p in parcels]
        profiles: dict[tuple, int] = {}
        dist_mats: list[np.ndarray] = []
        dur_mats: list[np.ndarray] = []
        type_profile: list[int] = []
        for g in groups:
            v = g.vehicles[0]
            ids = {x.vehicle_id for x in g.vehicles}
            banned = tuple(i for i, c in enumerate(can) if ids.isdisjoint(c))
            key = (v.kind, v.speed_mps, v.max_stops is None, banned)
            if key not in profiles:
                d = dist_m[v.kind]
                dist = self._units(d, du)
                dur = self._time(self._seconds(d, v, costs, client_loc, hub_loc), tu, up=True)
                dist[~np.isfinite(dist)] = big
                dur[~np.isfinite(dur)] = big
                stop_oh = costs.overheads(v)[1]
                if stop_oh > 0 and v.max_stops is None:
                    # no stop limit: a drone's climbs/hover at each stop count against range
                    # through the distance (see module: priced as distance then)
                    dist[:, client_loc] += float(self._units(stop_oh, du))
                if banned:
                    cols = [client_loc[i] for i in banned]
                    dist[:, cols] = big
                    dur[:, cols] = big
                np.fill_diagonal(dist, 0)
                np.fill_diagonal(dur, 0)
                profiles[key] = len(dist_mats)
                dist_mats.append(dist.astype(np.int64))
                dur_mats.append(dur.astype(np.int64))
            type_profile.append(profiles[key])

        clients = []
        for p, loc in zip(parcels, client_loc):
            tw = p.time_window
            clients.append(pyvrp.Client(
                location=loc, delivery=[self._grams(p.weight_kg), 1],   # (weight, one stop)
                service_duration=int(self._time(p.service_s, tu, up=True)),
                tw_early=int(self._time(tw.earliest_s, tu, up=True)) if tw else 0,
                tw_late=int(self._time(tw.latest_s, tu, up=False)) if tw else _INT_MAX,
                prize=int(p.priority * prize_unit) if self.optional else 0,
                required=not self.optional, name=p.parcel_id))

        vtypes = []
        for g, prof, dur_rate in zip(groups, type_profile, dur_costs):
            v = g.vehicles[0]
            start, load, t_done = v.ready_s, 0.0, 0.0
            start_oh, stop_oh = costs.overheads(v)
            dist_done = start_oh
            if g.committed:
                route = build_route(v, v.hub_id, g.committed, costs)
                load = sum(p.weight_kg for p in g.committed)
                dist_done += sum(leg.distance_m + stop_oh for leg in route.legs[:-1])
                t_done = route.stops[-1].eta_s + g.committed[-1].service_s
                start = t_done
            if v.max_stops is not None:
                # the stops it may still make, each with its climbs/hover, off its range
                dist_done += stop_oh * _stops_left(v, len(g.committed))
            vtypes.append(pyvrp.VehicleType(
                num_available=len(g.vehicles),
                capacity=[max(0, self._grams(v.payload_kg - load, floor=True)),
                          _stops_left(v, len(g.committed))],
                start_depot=depot_of[g.start_loc], end_depot=depot_of[g.end_loc],
                fixed_cost=0 if g.committed else int(round(v.fixed_cost * scale)),
                tw_early=int(self._time(start, tu, up=True)), tw_late=h_late,
                shift_duration=_int_or_max(self._floor(
                    (v.max_duration_s - t_done) / tu if v.max_duration_s is not None else math.inf)),
                max_distance=_int_or_max(self._floor((costs.budget(v) - dist_done) / du)),
                unit_distance_cost=int(round(v.cost_per_km / 1000.0 * du * scale)),
                unit_duration_cost=int(round(dur_rate * scale)),
                profile=prof, name=v.vehicle_id))
        data = pyvrp.ProblemData(locations, clients, depots, vtypes, dist_mats, dur_mats)
        return data, parcels, groups

    @staticmethod
    def _seconds(d: np.ndarray, v: VehicleSpec, costs: TravelCosts, client_loc: list[int],
                 hub_loc: list[int]) -> np.ndarray:
        """Travel seconds between locations for ``v``, a drone's vertical profile included: the
        take-off on legs from a hub, the landing on legs into one, the descent and hover on legs
        into a drop-off, the climb on legs out of one (so the solver's arrival is the ETA)."""
        secs = d / v.speed_mps
        vt = costs.times(v)
        if vt.arrive_s or vt.leave_s or vt.takeoff_s or vt.landing_s:
            secs = secs.copy()
            secs[:, client_loc] += vt.arrive_s
            secs[client_loc, :] += vt.leave_s
            secs[hub_loc, :] += vt.takeoff_s
            secs[:, hub_loc] += vt.landing_s
        return secs

    @staticmethod
    def _duration_rate(v: VehicleSpec, request: PlanRequest, parcels: list[ParcelSpec]
                       ) -> float:
        """Cost per second out on a route: the vehicle's per-hour price plus the customers'
        waiting (approximated, ``objective.waiting_rate_per_s``); 0 for the distance objective."""
        obj = request.objective
        if obj.kind is not ObjectiveKind.time:
            return 0.0
        return v.cost_per_hour / 3600.0 + waiting_rate_per_s(v, parcels, obj)

    def _grams(self, kg: float, floor: bool = False) -> int:
        x = kg / self.weight_unit_kg
        return int(math.floor(x + 1e-9)) if floor else int(math.ceil(x - 1e-9))

    @staticmethod
    def _floor(x: float) -> float:
        return math.floor(x + 1e-9) if math.isfinite(x) else x

    # ----------------------------------------------------------------------------- repair
    @staticmethod
    def _allowed(v: VehicleSpec, p: ParcelSpec, candidates: dict[str, list[VehicleSpec]]) -> bool:
        return v.hub_id in parcel_hubs(p) and v.vehicle_id in {
            c.vehicle_id for c in candidates.get(p.parcel_id, [])}

    @staticmethod
    def _repair(v: VehicleSpec, prefix: list[ParcelSpec], seq: list[ParcelSpec],
                candidates: dict[str, list[VehicleSpec]], costs: TravelCosts,
                request: PlanRequest, depart: float) -> list[ParcelSpec]:
        """Safety net for a route the solver itself reports infeasible (it penalises violations
        rather than forbidding them) or that uses a prohibited parcel: drop stops from the end
        until the route keeps every hard limit in real units. Routes the solver calls feasible
        are kept as they are: its integer rounding is the contract."""
        seq = [p for p in seq if PyVRPPlanner._allowed(v, p, candidates)]
        while seq and not _feasible(v, prefix + seq, costs, request, depart):
            seq.pop()
        return seq


def trip_capacity(vehicles: list[VehicleSpec], parcels: list[ParcelSpec]) -> int:
    """Drops the fleet can make with one trip per vehicle: each vehicle's stop limit or the
    lightest parcels its payload holds, whichever is less."""
    lightest = sorted(p.weight_kg for p in parcels)
    total = 0
    for v in vehicles:
        load, n = 0.0, 0
        for w in lightest:
            if load + w > v.payload_kg + 1e-9 or (v.max_stops is not None and n >= v.max_stops):
                break
            load, n = load + w, n + 1
        total += n
    return total


def shortlist(parcels: list[ParcelSpec], vehicles: list[VehicleSpec], costs: TravelCosts,
              factor: float) -> tuple[list[ParcelSpec], list[ParcelSpec]]:
    """The parcels offered to the solver, and those left out (``not_selected``) before it runs.

    One trip per vehicle serves at most ``trip_capacity`` parcels; a 2,000-parcel backlog on 20
    drones would make PyVRP spend the whole re-planning budget building neighbourhoods for parcels
    it cannot serve this time. Past ``factor`` x that capacity, the solver sees the parcels of
    highest priority, then earliest deadline, then nearest to their hub (cheapest to serve); the
    rest wait for the next plan. This is the documented degradation of large backlogs."""
    cap = trip_capacity(vehicles, parcels)
    keep = max(1, int(math.ceil(factor * cap)))
    if len(parcels) <= keep:
        return parcels, []

    def rank(p: ParcelSpec) -> tuple:
        h = costs.hub_index[p.hub_id]
        j = costs.parcel_index[p.parcel_id]
        near = min(float(np.min([costs.dist(k)[h, j] for k in costs.routers])), math.inf)
        due = p.time_window.latest_s if p.time_window is not None else math.inf
        return (-p.priority, due, near, p.parcel_id)
    ordered = sorted(parcels, key=rank)
    chosen = {p.parcel_id for p in ordered[:keep]}
    return ([p for p in parcels if p.parcel_id in chosen],
            [p for p in parcels if p.parcel_id not in chosen])


def _split_onto_idle(routes: list[Route], departs: dict[str, float], idle: list[VehicleSpec],
                     candidates: dict[str, list[VehicleSpec]], costs: TravelCosts,
                     request: PlanRequest) -> list[Route]:
    """Hand the tail of a route to an idle vehicle when that lowers the money-and-time cost.

    The solver's duration price cannot see that two same-speed vehicles sharing a tour finish
    sooner (their total duration is the same); the exact waiting can. Greedy: the best split
    (route, cut, idle vehicle) while one improves; only routes without committed stops."""
    obj = request.objective
    by_id = {p.parcel_id: p for p in request.parcels}
    spec = {v.vehicle_id: v for v in request.vehicles}
    routes, idle = list(routes), list(idle)

    def total(v: VehicleSpec, r: Route) -> float:
        return route_cost(v, r, obj) + waiting_cost(r, by_id, obj)

    while idle:
        best: tuple[float, int, VehicleSpec, Route, Route] | None = None
        for ri, r in enumerate(routes):
            if r.vehicle_id not in departs or len(r.stops) < 2:
                continue
            v, dep = spec[r.vehicle_id], departs[r.vehicle_id]
            seq = [by_id[s.parcel_id] for s in r.stops]
            now = total(v, r)
            tried: set[tuple] = set()
            for w in idle:
                key = (w.kind, w.hub_id, w.payload_kg, w.max_distance_m, w.speed_mps, w.max_stops,
                       w.fixed_cost, w.cost_per_km, w.cost_per_hour, w.max_duration_s)
                if w.hub_id != v.hub_id or key in tried:
                    continue
                tried.add(key)
                for cut in range(1, len(seq)):
                    head, tail = seq[:cut], seq[cut:]
                    if not all(PyVRPPlanner._allowed(w, p, candidates) for p in tail):
                        continue
                    if not (_feasible(v, head, costs, request, dep)
                            and _feasible(w, tail, costs, request, w.ready_s)):
                        continue
                    ra = build_route(v, v.hub_id, head, costs, dep)
                    rb = build_route(w, w.hub_id, tail, costs, w.ready_s)
                    gain = now - total(v, ra) - total(w, rb)
                    if gain > 1e-9 and (best is None or gain > best[0]):
                        best = (gain, ri, w, ra, rb)
        if best is None:
            break
        _, ri, w, ra, rb = best
        routes[ri] = ra
        routes.append(rb)
        departs[w.vehicle_id] = w.ready_s
        idle.remove(w)
    return routes


def _kinder_direction(v: VehicleSpec, route: Route, seq: list[ParcelSpec], costs: TravelCosts,
                      request: PlanRequest, depart: float) -> Route:
    """The same tour driven the other way round when that makes customers wait less (the
    duration price the solver sees is blind to the order of drops; the waiting is not) and the
    reversed route keeps every limit."""
    by_id = {p.parcel_id: p for p in seq}
    back = list(reversed(seq))
    if not _feasible(v, back, costs, request, depart):
        return route
    rev = build_route(v, v.hub_id, back, costs, depart)
    obj = request.objective
    now = route_cost(v, route, obj) + waiting_cost(route, by_id, obj)
    alt = route_cost(v, rev, obj) + waiting_cost(rev, by_id, obj)
    return rev if alt < now - 1e-9 else route


def _params(data: pyvrp.ProblemData) -> pyvrp.SolveParams:
    """Penalties able to outweigh a prize: PyVRP caps each violation's penalty per unit (excess
    gram, stop, second) at ``max_penalty``; with fine-grained costs (a scale of 1e6 for prices
    in cents per km) a parcel's prize can exceed that cap, and the search would rather overload a
    one-gripper drone than leave a parcel out. The cap is lifted to ten times the largest prize."""
    top = max((c.prize for c in data.clients()), default=0)
    default = pyvrp.PenaltyParams()
    if 10 * top <= default.max_penalty:
        return pyvrp.SolveParams()
    return pyvrp.SolveParams(penalty=pyvrp.PenaltyParams(max_penalty=10.0 * top))


def _stops_left(v: VehicleSpec, committed: int) -> int:
    """The second load dimension: drop-offs the vehicle can still make (every parcel is one)."""
    if v.max_stops is None:
        return _STOPS_UNLIMITED
    return max(0, v.max_stops - committed)


def _feasible(v: VehicleSpec, stops: list[ParcelSpec], costs: TravelCosts,
              request: PlanRequest, depart: float) -> bool:
    if sum(p.weight_kg for p in stops) > v.payload_kg + 1e-6:
        return False
    if v.max_stops is not None and len(stops) > v.max_stops:
        return False
    route = build_route(v, v.hub_id, stops, costs, depart)
    start_oh, stop_oh = costs.overheads(v)
    level = route.distance_m + start_oh + stop_oh * len(stops)
    if not math.isfinite(level) or level > costs.budget(v) + 1e-6:
        return False
    for p, s in zip(stops, route.stops):
        if p.time_window is not None and s.eta_s > p.time_window.latest_s + 1e-6:
            return False
    return within_time(v, request, depart, depart + route.duration_s)


def _int_or_max(x: float) -> int:
    return int(x) if math.isfinite(x) and x < _INT_MAX else _INT_MAX


def _auto_scale(values: list[float]) -> float:
    """Smallest power of ten that makes every cost an integer (up to 1e6)."""
    for e in range(0, 7):
        s = 10.0 ** e
        if all(abs(x * s - round(x * s)) <= 1e-9 * max(1.0, abs(x * s)) for x in values):
            return s
    return 1e6
