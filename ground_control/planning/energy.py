"""What a drone spends besides level flight, as metres of level flight, so range checks can
include it.

A drone climbs to cruise altitude, descends to drop altitude and climbs back at every stop, and
hovers while doing so: on short hops that is a large share of the battery. The edge agent prices
exactly this before it accepts a mission (``edge_agent.geofence_check.estimate_energy_wh``: climbs
at ``climb_equivalent_m`` metres of level flight per metre, hover at level-flight power); planning
with the same figures means a route the planner calls feasible is not refused on the pad. Robots
have no such overhead.
"""

from __future__ import annotations

from dataclasses import dataclass

from ground_control.planning.model import VehicleKind, VehicleSpec


@dataclass(frozen=True, slots=True)
class VerticalTimes:
    """Seconds a vehicle spends beside level travel, where ETAs must count them (a drone's
    vertical profile; zero for robots, whose handover time is the parcel's ``service_s``)."""

    takeoff_s: float = 0.0      # at the hub, before the first leg: climb to cruise altitude
    landing_s: float = 0.0      # at the hub, after the last leg: descend and land
    arrive_s: float = 0.0       # at each drop-off, before the release: descend, position, hover
    leave_s: float = 0.0        # at each drop-off, after the service: climb back to cruise


@dataclass(frozen=True, slots=True)
class FlightProfile:
    cruise_alt_m: float = 40.0
    drop_alt_m: float = 5.0
    climb_equivalent_m: float = 5.0     # level metres per metre climbed
    vertical_speed_mps: float = 1.5     # hover time while climbing/descending
    hover_per_stop_s: float = 20.0      # positioning over the drop-off and the release
    #: the agent measures on a sphere, the planner on the ellipsoid: keep this much range spare
    geodesy_margin: float = 0.005

    def overheads(self, v: VehicleSpec) -> tuple[float, float]:
        """(per route, per stop) energy as metres of level flight for vehicle ``v``."""
        if v.kind is not VehicleKind.drone:
            return 0.0, 0.0
        dive = max(0.0, self.cruise_alt_m - self.drop_alt_m)
        # hover at level-flight power: one second of it costs speed x 1 s of level flight
        per_route = (self.cruise_alt_m * self.climb_equivalent_m
                     + v.speed_mps * 2 * self.cruise_alt_m / self.vertical_speed_mps)
        per_stop = (dive * self.climb_equivalent_m
                    + v.speed_mps * (2 * dive / self.vertical_speed_mps + self.hover_per_stop_s))
        return per_route, per_stop

    def times(self, v: VehicleSpec) -> VerticalTimes:
        """The same climbs and hover as ``overheads``, as time (what a drone's ETA includes)."""
        if v.kind is not VehicleKind.drone or self.vertical_speed_mps <= 0:
            return VerticalTimes()
        dive = max(0.0, self.cruise_alt_m - self.drop_alt_m)
        climb = self.cruise_alt_m / self.vertical_speed_mps
        return VerticalTimes(takeoff_s=climb, landing_s=climb,
                             arrive_s=dive / self.vertical_speed_mps + self.hover_per_stop_s,
                             leave_s=dive / self.vertical_speed_mps)

    def budget_m(self, v: VehicleSpec) -> float:
        """Level-flight metres available for a route, overheads included (robots: travel only;
        the agent measures their routes on the sphere too, so they keep the same margin)."""
        return v.max_distance_m / (1.0 + self.geodesy_margin)


#: no overheads at all: range is pure distance (benchmarks, robots-only fleets)
NO_OVERHEAD = FlightProfile(cruise_alt_m=0.0, drop_alt_m=0.0, hover_per_stop_s=0.0,
                            geodesy_margin=0.0)
