"""Hubs: where vehicles live and parcels start."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import exists, select

from ground_control.api.deps import Limit, Offset, Order, PathId, Session
from ground_control.api.schemas import HubCreate, HubOut, HubUpdate, Page
from ground_control.db.models import Geofence, Hub, Mission, Parcel, Vehicle
from ground_control.db.repositories import Conflict, SortOrder, get_or_404, paginate

router = APIRouter(prefix="/hubs", tags=["hubs"])
ERR = {404: {"description": "unknown hub"}, 409: {"description": "conflict"}, 422: {"description": "invalid input"}}


@router.post("", status_code=201, response_model=HubOut, responses=ERR)
async def create_hub(body: HubCreate, session: Session) -> Hub:
    if await session.get(Hub, body.id) is not None:
        raise Conflict(f"hub {body.id!r} already exists")
    hub = Hub(**body.model_dump())
    session.add(hub)
    await session.commit()
    return hub


@router.get("", response_model=Page[HubOut])
async def list_hubs(session: Session, limit: Limit = 50, offset: Offset = 0, order: Order = SortOrder.asc) -> dict:
    return await paginate(session, select(Hub), limit, offset, order_by=(Hub.id,), order=order)


@router.get("/{hub_id}", response_model=HubOut, responses=ERR)
async def get_hub(hub_id: PathId, session: Session) -> Hub:
    return await get_or_404(session, Hub, hub_id, "hub")


@router.patch("/{hub_id}", response_model=HubOut, responses=ERR)
async def update_hub(hub_id: PathId, body: HubUpdate, session: Session) -> Hub:
    hub = await get_or_404(session, Hub, hub_id, "hub")
    for k, v in body.model_dump(exclude_none=True).items():
        setattr(hub, k, v)
    await session.commit()
    return hub


@router.delete("/{hub_id}", status_code=204, responses=ERR)
async def delete_hub(hub_id: PathId, session: Session) -> Response:
    hub = await get_or_404(session, Hub, hub_id, "hub")
    for model, what in ((Vehicle, "vehicles"), (Parcel, "parcels"), (Geofence, "geofences"), (Mission, "missions")):
        if await session.scalar(select(exists().where(model.hub_id == hub_id))):
            raise Conflict(f"hub {hub_id!r} still has {what}; move or delete them first")
    await session.delete(hub)
    await session.commit()
    return Response(status_code=204)
