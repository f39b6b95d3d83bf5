"""Geofences as RFC 7946 GeoJSON, validated before they are stored by building the protocol
geofence missions will carry (``domain.geofence.protocol_geofence``, the rule dispatch uses too):
a mission is only as safe as the fence it carries, and a stored fence must never stop dispatch."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from ground_control.api.deps import Limit, Offset, Order, PathId, QueryId, Session, wake_dispatch
from ground_control.api.schemas import GeofenceCreate, GeofenceOut, GeofenceReplace, Page
from ground_control.db.models import Geofence, Hub
from ground_control.db.repositories import Conflict, Invalid, SortOrder, get_or_404, paginate
from ground_control.domain.geofence import protocol_geofence

router = APIRouter(prefix="/geofences", tags=["geofences"])
ERR = {404: {"description": "unknown geofence"}, 409: {"description": "conflict"},
       422: {"description": "invalid input or invalid GeoJSON (with the reason)"}}


@router.post("", status_code=201, response_model=GeofenceOut, responses=ERR)
async def create_geofence(body: GeofenceCreate, session: Session, request: Request) -> Geofence:
    # the same rule dispatch applies (GeofenceError -> 422 with the reason), in a thread: a
    # large fence takes shapely a while and the API must keep answering meanwhile
    fence_proto = await asyncio.to_thread(protocol_geofence, body.geojson)
    if await session.get(Geofence, body.id) is not None:
        raise Conflict(f"geofence {body.id!r} already exists")
    if body.hub_id is not None and await session.get(Hub, body.hub_id) is None:
        raise Invalid(f"hub {body.hub_id!r} does not exist")
    fence = Geofence(id=body.id, name=body.name, hub_id=body.hub_id, geojson=body.geojson,
                     ceiling_m=fence_proto.ceiling_m)
    session.add(fence)
    await session.commit()
    wake_dispatch(request)
    return fence


@router.get("", response_model=Page[GeofenceOut])
async def list_geofences(session: Session, limit: Limit = 50, offset: Offset = 0, hub_id: QueryId = None,
                         order: Order = SortOrder.asc) -> dict:
    return await paginate(session, select(Geofence), limit, offset, {Geofence.hub_id: hub_id},
                          order_by=(Geofence.id,), order=order)


@router.get("/{geofence_id}", response_model=GeofenceOut, responses=ERR)
async def get_geofence(geofence_id: PathId, session: Session) -> Geofence:
    return await get_or_404(session, Geofence, geofence_id, "geofence")


@router.put("/{geofence_id}", response_model=GeofenceOut, responses=ERR)
async def replace_geofence(geofence_id: PathId, body: GeofenceReplace, session: Session, request: Request) -> Geofence:
    """Replace a stored fence's document (an edited, added or removed no-fly zone): validated
    exactly as POST is, and on a refusal the stored fence is left as it was."""
    fence = await get_or_404(session, Geofence, geofence_id, "geofence")
    fence_proto = await asyncio.to_thread(protocol_geofence, body.geojson)
    if body.hub_id is not None and await session.get(Hub, body.hub_id) is None:
        raise Invalid(f"hub {body.hub_id!r} does not exist")
    fence.name, fence.hub_id, fence.geojson = body.name, body.hub_id, body.geojson
    fence.ceiling_m = fence_proto.ceiling_m
    await session.commit()
    await session.refresh(fence)
    wake_dispatch(request)
    return fence


@router.delete("/{geofence_id}", status_code=204, responses=ERR)
async def delete_geofence(geofence_id: PathId, session: Session) -> Response:
    fence = await get_or_404(session, Geofence, geofence_id, "geofence")
    await session.delete(fence)
    await session.commit()
    return Response(status_code=204)
