"""Prices per vehicle kind for the planner's money-and-time objective: per km travelled, per
hour out on a route, per trip. Unset kinds use the planner's defaults (``planning.prices``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ground_control.api.deps import Session
from ground_control.api.schemas import _In
from ground_control.db.models import VehicleTypeCosts
from ground_control.dispatch.pricing import prices_of
from ground_control.planning.model import VehicleKind
from ground_control.planning.prices import DEFAULT_PRICES

router = APIRouter(prefix="/vehicle-types", tags=["vehicle types"])
ERR = {422: {"description": "unknown vehicle kind or invalid prices"}}
Kind = Literal["drone", "robot"]


class CostsIn(_In):
    cost_per_km: float = Field(ge=0, le=1e6, description="per km travelled (energy, wear)")
    cost_per_hour: float = Field(ge=0, le=1e6, description="per hour out on a route")
    fixed_cost_per_trip: float = Field(ge=0, le=1e6, description="per trip (each mission)")


class CostsOut(BaseModel):
    kind: Kind
    cost_per_km: float
    cost_per_hour: float
    fixed_cost_per_trip: float
    source: Literal["configured", "default"]


def _out(kind: str, row: VehicleTypeCosts | None) -> CostsOut:
    p = prices_of(row) if row is not None else DEFAULT_PRICES[VehicleKind(kind)]
    return CostsOut(kind=kind, cost_per_km=p.cost_per_km, cost_per_hour=p.cost_per_hour,
                    fixed_cost_per_trip=p.fixed_cost,
                    source="configured" if row is not None else "default")


@router.get("/{kind}/costs", response_model=CostsOut, responses=ERR)
async def get_costs(kind: Kind, session: Session) -> CostsOut:
    """The prices the planner uses for this kind now."""
    return _out(kind, await session.get(VehicleTypeCosts, kind))


@router.put("/{kind}/costs", response_model=CostsOut, responses=ERR)
async def put_costs(kind: Kind, body: CostsIn, session: Session) -> CostsOut:
    """Set this kind's prices; the next planning pass uses them."""
    row = await session.get(VehicleTypeCosts, kind)
    if row is None:
        row = VehicleTypeCosts(kind=kind, **body.model_dump())
        session.add(row)
    else:
        for k, v in body.model_dump().items():
            setattr(row, k, v)
    await session.commit()
    return _out(kind, row)
