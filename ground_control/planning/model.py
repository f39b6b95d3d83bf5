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
    fixed_cost: float = 0.0          # cost of using this vehicle at all
    cost_per_km: float = 1.0
    reserve_fraction: float = 0.2    # battery kept in reserve (never planned)
    #: longest route (travel + service + waiting) allowed, e.g. a crew shift; None = unlimited
    max_duration_s: float | None = None
    #: most drop-offs in one trip: a drone releases each parcel from its own gripper / release
    #: channel, so one gripper carries one parcel (an open servo gripper cannot release a second);
    #: None = limited by payload only (robots hand over from their compartment)
    max_stops: int | None = None

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


@dataclass(frozen=True, slots=True)
class Plan:
    routes: tuple[Route, ...]
    unplanned: dict[str, UnplannedReason]   # parcel_id -> why it is not in any route
    cost: float
    solve_s: float


class RoutePlanner(Protocol):
    """What dispatch needs from a planner. ``GreedyPlanner`` and ``PyVRPPlanner`` implement it."""

    def plan(self, request: PlanRequest) -> Plan: ...
