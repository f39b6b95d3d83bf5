"""Prices per vehicle kind and the customers' waiting price: the inputs of the ``time`` objective.

Dispatch reads them from the API's ``/vehicle-types/{kind}/costs`` (table ``vehicle_type_costs``)
and falls back to these defaults. The defaults are illustrative orders of magnitude, in one
currency unit: a drone's kilometre is energy (12 Wh/km) and wear, its hour is cheap (no crew on
board, battery wear); a robot's kilometre wears tyres and drive, its hour costs more supervision;
a customer's waiting minute costs about as much as a robot's. Operators set their own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ground_control.planning.model import Objective, ObjectiveKind, VehicleKind, VehicleSpec


@dataclass(frozen=True, slots=True)
class VehiclePrices:
    cost_per_km: float
    cost_per_hour: float
    fixed_cost: float          # per trip


DEFAULT_PRICES: dict[VehicleKind, VehiclePrices] = {
    VehicleKind.drone: VehiclePrices(cost_per_km=0.05, cost_per_hour=3.0, fixed_cost=0.10),
    VehicleKind.robot: VehiclePrices(cost_per_km=0.10, cost_per_hour=6.0, fixed_cost=0.20),
}

#: per parcel-minute until the drop (priority parcels: x (1 + factor x (priority - 1)))
DEFAULT_WAIT_COST_PER_PARCEL_MIN = 0.10

TIME_OBJECTIVE = Objective(kind=ObjectiveKind.time,
                           wait_cost_per_parcel_min=DEFAULT_WAIT_COST_PER_PARCEL_MIN)


def priced(vehicle: VehicleSpec, prices: VehiclePrices) -> VehicleSpec:
    """The vehicle with its kind's prices."""
    return dataclasses.replace(vehicle, cost_per_km=prices.cost_per_km,
                               cost_per_hour=prices.cost_per_hour, fixed_cost=prices.fixed_cost)
