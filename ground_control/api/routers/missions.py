"""Missions (read-only: dispatch creates them) and the vehicle event log."""

from __future__ import annotations

from enum import StrEnum

from fastapi import APIRouter
from sqlalchemy import select

from ground_control.api.deps import Limit, Offset, Order, PathId, QueryId, Session
from ground_control.api.schemas import EventOut, MissionDetail, MissionOut, Page
from ground_control.db.models import Event, Mission
from ground_control.db.repositories import SortOrder, get_or_404, paginate
from fleet_protocol.event import EventKind

router = APIRouter(tags=["missions"])
ERR = {404: {"description": "unknown mission"}, 422: {"description": "invalid input"}}


class MissionState(StrEnum):
    sent = "sent"
    accepted = "accepted"
    started = "started"
    completed = "completed"
    failed = "failed"


@router.get("/missions", response_model=Page[MissionOut])
async def list_missions(session: Session, limit: Limit = 50, offset: Offset = 0,
                        vehicle_id: QueryId = None, state: MissionState | None = None,
                        order: Order = SortOrder.asc) -> dict:
    return await paginate(session, select(Mission), limit, offset, {
        Mission.vehicle_id: vehicle_id,
        Mission.state: state,
    }, order_by=(Mission.created_at, Mission.id), order=order)


@router.get("/missions/{mission_id}", response_model=MissionDetail, responses=ERR)
async def get_mission(mission_id: PathId, session: Session) -> Mission:
    return await get_or_404(session, Mission, mission_id, "mission")


@router.get("/events", response_model=Page[EventOut], tags=["events"])
async def list_events(session: Session, limit: Limit = 50, offset: Offset = 0, vehicle_id: QueryId = None,
                      kind: EventKind | None = None, mission_id: QueryId = None, parcel_id: QueryId = None,
                      order: Order = SortOrder.asc) -> dict:
    return await paginate(session, select(Event), limit, offset, {
        Event.vehicle_id: vehicle_id,
        Event.kind: kind,
        Event.mission_id: mission_id,
        Event.parcel_id: parcel_id,
    }, order_by=(Event.received_at, Event.id), order=order)
