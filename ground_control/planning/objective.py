"""What a plan costs under the request's objective, computed exactly on the routes found.

The solver optimises PyVRP's native terms (fixed, per-distance and per-duration costs per vehicle
type); customers' waiting per parcel-minute is not one of them, so the solver works with an
approximation (``waiting_rate_per_s``) and the plan reports the exact figure from here.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

from ground_control.planning.model import (
    Objective, ObjectiveKind, ParcelSpec, Route, VehicleSpec,
)


def money_cost(vehicle: VehicleSpec, route: Route, objective: Objective) -> float:
    """The vehicle's own prices: per trip, per km and (time objective) per hour out."""
    cost = vehicle.fixed_cost + vehicle.cost_per_km * route.distance_m / 1000.0
    if objective.kind is ObjectiveKind.time:
        cost += vehicle.cost_per_hour * route.duration_s / 3600.0
    return cost


def waiting_cost(route: Route, parcels: Mapping[str, ParcelSpec], objective: Objective) -> float:
    """Sum over the route's drops of (minutes from the plan's start to the drop) x weight."""
    return sum(objective.wait_weight(parcels[s.parcel_id].priority) * s.eta_s / 60.0
               for s in route.stops)


def expected_stops(vehicle: VehicleSpec, parcels: list[ParcelSpec]) -> float:
    """Drops a full route of this vehicle makes: its stop limit, the parcels of mean weight its
    payload holds, or all the parcels, whichever is least."""
    n = float(len(parcels))
    if vehicle.max_stops is not None:
        n = min(n, vehicle.max_stops)
    mean_kg = sum(p.weight_kg for p in parcels) / len(parcels) if parcels else 0.0
    if mean_kg > 0:
        n = min(n, math.floor(vehicle.payload_kg / mean_kg + 1e-9))
    return max(1.0, n)


def waiting_rate_per_s(vehicle: VehicleSpec, parcels: Iterable[ParcelSpec],
                       objective: Objective) -> float:
    """The waiting term as a cost per second of route duration (what the solver optimises): a
    route out for D seconds making k evenly spaced drops keeps its customers waiting about
    k x D / 2 parcel-seconds, so each second out is priced at k / 2 x the mean waiting weight,
    with k = ``expected_stops`` (a full route). Exact for a one-parcel trip out and back the same
    way; for part-loaded routes it overcounts, which pushes parcels to the faster vehicles. A
    duration price cannot reward splitting work among vehicles of the same speed (total
    duration is the same), so the plan's exact ``waiting_cost`` is reported beside it."""
    ps = list(parcels)
    if objective.kind is not ObjectiveKind.time or not ps:
        return 0.0
    mean_w = sum(objective.wait_weight(p.priority) for p in ps) / len(ps) / 60.0
    return mean_w * expected_stops(vehicle, ps) / 2.0
