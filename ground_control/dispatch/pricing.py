"""The vehicle kinds' prices as configured over the API (``/vehicle-types/{kind}/costs``), with
the planner's defaults for kinds nobody configured. Read once per planning pass."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import VehicleTypeCosts
from ground_control.planning.model import VehicleKind
from ground_control.planning.prices import DEFAULT_PRICES, VehiclePrices


def prices_of(row: VehicleTypeCosts) -> VehiclePrices:
    return VehiclePrices(cost_per_km=row.cost_per_km, cost_per_hour=row.cost_per_hour,
                         fixed_cost=row.fixed_cost_per_trip)


async def load_prices(session: AsyncSession) -> dict[VehicleKind, VehiclePrices]:
    out = dict(DEFAULT_PRICES)
    for row in (await session.scalars(select(VehicleTypeCosts))).all():
        out[VehicleKind(row.kind)] = prices_of(row)
    return out
