"""The planner's domain model: what goes in (hubs, vehicles, parcels, geofence, streets) and what
comes out (routes and the parcels left out, with reasons). Pure data, no I/O, no solver types:
the solver adapts to this model, never the other way round (as PyVRP separates ProblemData from
its solver).

Units: positions in WGS84 degrees, distances in metres, energy in watt-hours, times in seconds
from the plan's start (``PlanRequest.now``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class VehicleKind(StrEnum):
    drone = "drone"
    robot = "robot"


class UnplannedReason(StrEnum):
    too_heavy = "too_heavy"                  # heavier than every available vehicle's payload
    outside_area = "outside_area"            # outside the inclusion area or inside a no-fly zone
    out_of_range = "out_of_range"            # no vehicle can reach it and come back on its battery
    time_window = "time_window"              # no vehicle can arrive inside its time window
    no_vehicle = "no_vehicle"                # no available vehicle at its hub
    not_selected = "not_selected"            # feasible, but left out by the optimiser (capacity)
    geofence_unusable = "geofence_unusable"  # its hub's stored geofence cannot become a mission's
    planning_failed = "planning_failed"      # the planner raised for its group (a bug): it waits


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class HubSpec:
    hub_id: str
    position: Point


@dataclass(frozen=True, slots=True)
class VehicleSpec:
    vehicle_id: str
    kind: VehicleKind
    hub_id: str
    payload_kg: float
    battery_wh: float
    wh_per_km: float                 # energy model: consumption per km at cruise speed
    speed_mps: float
    available: bool = True
    fixed_cost: float = 0.0          # cost of one trip (using this vehicle at all in a plan)
    cost_per_km: float = 1.0         # per km travelled (energy, wear); geometric km
    #: per hour out on a route (operator time, depreciation); priced only by the "time" objective
    cost_per_hour: float = 0.0
    reserve_fraction: float = 0.2    # battery kept in reserve (never planned)
    #: longest route (travel + service + waiting) allowed, e.g. a crew shift; None = unlimited
    max_duration_s: float | None = None
    #: most drop-offs in one trip: a drone releases each parcel from its own gripper / release
    #: channel, so one gripper carries one parcel (an open servo gripper cannot release a second);
    #: None = limited by payload only (robots hand over from their compartment)
    max_stops: int | None = None
    #: earliest departure from the hub (seconds from the plan's start): back from an earlier
    #: trip and turned around (whole-day plans)
    ready_s: float = 0.0

    @property
    def max_distance_m(self) -> float:
        """Range on one charge, after the reserve."""
        if self.wh_per_km <= 0:
            return float("inf")
        return self.battery_wh * (1 - self.reserve_fraction) / self.wh_per_km * 1000.0


@dataclass(frozen=True, slots=True)
class TimeWindow:
    earliest_s: float
    latest_s: float


@dataclass(frozen=True, slots=True)
class ParcelSpec:
    parcel_id: str
    hub_id: str                      # origin hub: the parcel can only leave from here
    drop_off: Point
    weight_kg: float
    time_window: TimeWindow | None = None
    priority: int = 1                # higher is more important; scales the prize for serving it
    service_s: float = 30.0          # time spent at the drop-off
    #: other hubs that also stock this parcel (multi-depot); empty = only ``hub_id``
    alt_hub_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GeofenceSpec:
    inclusion: tuple[Point, ...]                   # polygon ring, not closed
    exclusions: tuple[tuple[Point, ...], ...] = ()
    safety_margin_m: float = 10.0
    ceiling_m: float = 120.0


@dataclass(frozen=True, slots=True)
class StreetNetwork:
    """Streets robots may drive on, as polylines (GeoJSON LineString coordinates)."""

    lines: tuple[tuple[Point, ...], ...]


class ObjectiveKind(StrEnum):
    distance = "distance"    # vehicles' fixed and per-km costs only (the original objective)
    time = "time"            # also per-hour costs and customers' waiting (see ``Objective``)


@dataclass(frozen=True, slots=True)
class Objective:
    """What a plan should minimise besides serving as many parcels as it can.

    ``time``: money (each vehicle's ``fixed_cost``, ``cost_per_km``, ``cost_per_hour``) plus the
    customers' waiting: ``wait_cost_per_parcel_min`` for every minute from the plan's start until
    the parcel is dropped, times ``1 + priority_wait_factor * (priority - 1)`` (heavier for priority
    parcels). The solver optimises an approximation of the waiting term (see ``solver.py``);
    ``Plan.cost`` and ``Plan.waiting_cost`` report it exactly for the plan found.
    """

    kind: ObjectiveKind = ObjectiveKind.distance
    wait_cost_per_parcel_min: float = 0.0
    priority_wait_factor: float = 1.0

    def wait_weight(self, priority: int) -> float:
        """Cost of one minute of waiting for a parcel of this priority."""
        if self.kind is not ObjectiveKind.time:
            return 0.0
        return self.wait_cost_per_parcel_min * (1.0 + self.priority_wait_factor * (priority - 1))


@dataclass(frozen=True, slots=True)
class PlanRequest:
    hubs: tuple[HubSpec, ...]
    vehicles: tuple[VehicleSpec, ...]
    parcels: tuple[ParcelSpec, ...]
    geofence: GeofenceSpec | None = None
    streets: StreetNetwork | None = None
    robot_detour_factor: float = 1.3
    #: routes under way: vehicle_id -> parcel ids already committed (kept, in that order)
    committed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    time_limit_s: float = 2.0
    seed: int = 0
    #: every route must be back at its hub by then (seconds from now); None = no limit
    horizon_s: float | None = None
    #: positions are planar metres (``lon`` = x, ``lat`` = y), not WGS84: benchmarks and
    #: simulations with Euclidean instances, so their costs are exact, not projected
    planar: bool = False
    objective: Objective = field(default_factory=Objective)


@dataclass(frozen=True, slots=True)
class Leg:
    """The path from one stop (or the hub) to the next, endpoints included."""

    path: tuple[Point, ...]
    distance_m: float


@dataclass(frozen=True, slots=True)
class PlannedStop:
    parcel_id: str
    position: Point
    eta_s: float


@dataclass(frozen=True, slots=True)
class Route:
    vehicle_id: str
    hub_id: str
    stops: tuple[PlannedStop, ...]
    legs: tuple[Leg, ...]            # len(stops) + 1: hub -> s0, s0 -> s1, ..., s_last -> hub
    distance_m: float
    energy_wh: float
    duration_s: float
    depart_s: float = 0.0            # leaves the hub then (seconds from the plan's start)
    #: 0: the trip dispatch sends now; 1, 2...: later trips of a whole-day plan (ETAs only)
    trip: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    routes: tuple[Route, ...]
    unplanned: dict[str, UnplannedReason]   # parcel_id -> why it is not in any route
    cost: float                              # vehicles' money cost + waiting_cost
    solve_s: float
    #: customers' waiting priced by the request's objective (0 for the distance objective)
    waiting_cost: float = 0.0
    #: whole-day plans (``DayPlanner``): the vehicles' later trips, after returning to the hub
    #: and a battery swap/reload; dispatch sends only ``routes``
    later: tuple[Route, ...] = ()


class RoutePlanner(Protocol):
    """What dispatch needs from a planner. ``GreedyPlanner`` and ``PyVRPPlanner`` implement it."""

    def plan(self, request: PlanRequest) -> Plan: ...
