"""Vehicles, their latest telemetry, and operator commands (published on MQTT through the
command outbox by the dispatcher, so a POST never waits on the broker).

Roles (auth.policy): register, change, delete and declare-lost admin; commands admin and
dispatcher; reads admin, dispatcher, viewer. A principal limited to hubs only sees and
touches its hubs' vehicles."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import exists, select

from fleet_protocol import CommandAction
from ground_control.api.deps import Limit, Offset, Order, PathId, QueryId, Session, wake_dispatch
from ground_control.api.schemas import (
    CommandCreate, CommandOut, DeclareLost, DeclareLostOut, Page, TelemetryOut, VehicleCreate, VehicleDetail, VehicleOut,
    VehicleType, VehicleUpdate,
)
from ground_control.api.handover import check_handover_code
from ground_control.api.routers import broker_credentials as broker
from ground_control.auth.dependencies import hub_scope, require_hub
from ground_control.db.models import Command, Hub, Mission, Parcel, TelemetryLatest, Vehicle, VehiclePresence, utcnow
from ground_control.db.repositories import Conflict, Invalid, NotFound, SortOrder, get_or_404, paginate
from ground_control.dispatch.reassign import ACTIVE_MISSION_STATES, declare_lost
from ground_control.history.query import as_geojson, read_window

router = APIRouter(prefix="/vehicles", tags=["vehicles"])
ERR = {404: {"description": "unknown vehicle"}, 409: {"description": "conflict"}, 422: {"description": "invalid input"}}
BROKER_ERR = {**ERR, 502: {"description": "the broker's credential could not be updated: see the reason"}}
COMMAND_ERR = {**ERR, 403: {"description": "handover_confirmed with a wrong or missing handover code"},
               409: {"description": "conflict: mission not the vehicle's, parcel not aboard, handover locked"}}


class VehicleRegistered(VehicleOut):
    """The new vehicle and its broker login, whose password is shown here only."""
    broker_credentials: broker.BrokerCredentialsOut


async def _hub_exists(session: Session, hub_id: str, request: Request) -> None:
    require_hub(request, hub_id, "home hub")
    if await session.get(Hub, hub_id) is None:
        raise Invalid(f"home hub {hub_id!r} does not exist")


@router.post("", status_code=201, response_model=VehicleRegistered, responses=ERR)
async def create_vehicle(body: VehicleCreate, session: Session, request: Request) -> VehicleRegistered:
    """Register a vehicle and issue its broker credential (``broker_credentials``: ``issued``
    with the password, shown only here; ``not_managed`` without FLEET_BROKER_ADMIN; ``failed``
    with the reason: the vehicle is kept, issue it later with POST .../broker-credentials)."""
    if await session.get(Vehicle, body.id) is not None:
        raise Conflict(f"vehicle {body.id!r} already exists")
    await _hub_exists(session, body.hub_id, request)
    v = Vehicle(**body.model_dump(mode="json"), status_state="offline", online=False)
    if v.type == VehicleType.drone.value and v.release_bays is None:
        v.release_bays = 1   # one gripper, one parcel per trip (what the edge agent assumes)
    presence = await session.get(VehiclePresence, body.id)
    if presence is not None:   # it announced itself before it was registered
        v.status_state, v.status_at = presence.state, presence.at
    session.add(v)
    await session.commit()
    creds = await broker.issue_or_report(request, v.id)
    wake_dispatch(request)
    return VehicleRegistered(**VehicleOut.model_validate(v).model_dump(), broker_credentials=creds)


@router.get("", response_model=Page[VehicleOut])
async def list_vehicles(
    request: Request, session: Session, limit: Limit = 50, offset: Offset = 0, type: VehicleType | None = None,
    hub_id: QueryId = None, enabled: bool | None = None, online: bool | None = None,
    order: Order = SortOrder.asc,
) -> dict:
    stmt = select(Vehicle)
    if (hubs := hub_scope(request)) is not None:
        stmt = stmt.where(Vehicle.hub_id.in_(hubs))
    return await paginate(session, stmt, limit, offset, {
        Vehicle.type: type,
        Vehicle.hub_id: hub_id,
        Vehicle.enabled: enabled,
        Vehicle.online: online,
    }, order_by=(Vehicle.id,), order=order)


@router.get("/{vehicle_id}", response_model=VehicleDetail, responses=ERR)
async def get_vehicle(vehicle_id: PathId, session: Session) -> VehicleDetail:
    v = await get_or_404(session, Vehicle, vehicle_id, "vehicle")
    tel = await session.get(TelemetryLatest, vehicle_id)
    active = await session.scalar(
        select(Mission.id).where(Mission.vehicle_id == vehicle_id, Mission.state.in_(ACTIVE_MISSION_STATES)).limit(1)
    )
    out = VehicleDetail.model_validate(v)
    out.telemetry = TelemetryOut.model_validate(tel) if tel else None
    out.active_mission_id = active
    return out


@router.patch("/{vehicle_id}", response_model=VehicleOut, responses=BROKER_ERR)
async def update_vehicle(vehicle_id: PathId, body: VehicleUpdate, session: Session, request: Request) -> Vehicle:
    """``enabled=false`` also disables the vehicle's broker credential (``true`` restores it)."""
    v = await get_or_404(session, Vehicle, vehicle_id, "vehicle")
    changes = body.model_dump(exclude_none=True)
    if "hub_id" in changes:
        await _hub_exists(session, changes["hub_id"], request)
    if "release_bays" in changes and v.type != VehicleType.drone.value:
        raise Invalid("release_bays applies to drones only")
    for k, val in changes.items():
        setattr(v, k, val)
    await session.commit()
    wake_dispatch(request)
    if "enabled" in changes:
        await broker.apply_enabled(request, vehicle_id, changes["enabled"])
    return v


@router.delete("/{vehicle_id}", status_code=204, responses=BROKER_ERR)
async def delete_vehicle(vehicle_id: PathId, session: Session, request: Request) -> Response:
    """Delete the vehicle and its broker credential (the broker first: 502 deletes nothing)."""
    v = await get_or_404(session, Vehicle, vehicle_id, "vehicle")
    if await session.scalar(select(exists().where(Mission.vehicle_id == vehicle_id))):
        raise Conflict(f"vehicle {vehicle_id!r} has missions on record; disable it instead (PATCH enabled=false)")
    if await session.scalar(select(exists().where(Parcel.vehicle_id == vehicle_id))):
        raise Conflict(f"vehicle {vehicle_id!r} carries parcels")
    await broker.revoke_for_delete(request, vehicle_id)
    await session.delete(v)
    await session.commit()
    return Response(status_code=204)


@router.post("/{vehicle_id}/declare-lost", response_model=DeclareLostOut, responses=BROKER_ERR)
async def declare_vehicle_lost(vehicle_id: PathId, body: DeclareLost, session: Session, request: Request) -> DeclareLostOut:
    """An operator's explicit, audited decision that a vehicle is lost (going offline alone
    frees nothing). Its active missions fail; parcels aboard become ``lost`` (an operator later
    moves each to ``created`` when found at the hub, or ``returned``); parcels only planned on a
    mission it never accepted go back to planning (and it is told to abort that mission); the
    vehicle is disabled until re-enabled (PATCH enabled=true). The reason is kept on the vehicle,
    the missions and every parcel's history. Its broker credential is disabled as well (a lost
    vehicle may be in someone else's hands)."""
    v = await get_or_404(session, Vehicle, vehicle_id, "vehicle")
    out = await declare_lost(session, v, body.reason, utcnow())
    await session.commit()
    wake_dispatch(request)
    await broker.apply_enabled(request, vehicle_id, False)
    return DeclareLostOut(vehicle_id=vehicle_id, **out)


@router.get("/{vehicle_id}/telemetry", response_model=TelemetryOut, responses=ERR)
async def vehicle_telemetry(vehicle_id: PathId, session: Session) -> TelemetryLatest:
    tel = await session.get(TelemetryLatest, vehicle_id)
    if tel is None:
        raise NotFound(f"no telemetry from vehicle {vehicle_id!r} yet")
    return tel


#: the longest window one history request may ask for (a page is still at most ``limit`` samples)
MAX_HISTORY_WINDOW = timedelta(days=31)


@router.get("/{vehicle_id}/telemetry/history", responses={**ERR, 409: {"description": "telemetry history is off"}})
async def vehicle_telemetry_history(
    vehicle_id: PathId, session: Session, request: Request,
    since: Annotated[datetime | None, Query(description="start (inclusive, with a time zone); default: until - 1 h")] = None,
    until: Annotated[datetime | None, Query(description="end (exclusive, with a time zone); default: now")] = None,
    after: Annotated[datetime | None, Query(description="cursor: the previous page's next_after")] = None,
    mission_id: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="samples per page")] = 1000,
    format: Annotated[Literal["json", "geojson"], Query(description="json: samples; geojson: the track as a Feature")] = "json",
) -> dict[str, Any]:
    """The vehicle's stored telemetry in a time window, oldest first (kept for
    ``FLEET_TELEMETRY_RETENTION_DAYS``): replay a flight, check where a vehicle was when a parcel
    went missing. Pages follow ``next_after``; ``format=geojson`` gives the page as a LineString."""
    settings = request.app.state.settings
    if not settings.telemetry_history:
        raise Conflict("telemetry history is off (FLEET_TELEMETRY_HISTORY=false): only the latest sample is kept")
    for name, value in (("since", since), ("until", until), ("after", after)):
        if value is not None and value.tzinfo is None:
            raise Invalid(f"{name} needs a time zone (e.g. 2026-12-04T10:00:00Z)")
    until = until or utcnow()
    since = since or until - timedelta(hours=1)
    if since >= until:
        raise Invalid("since must be before until")
    if until - since > MAX_HISTORY_WINDOW:
        raise Invalid(f"window longer than {MAX_HISTORY_WINDOW.days} days; ask for less")
    await get_or_404(session, Vehicle, vehicle_id, "vehicle")
    page = await read_window(session, vehicle_id, since, until, limit, after=after, mission_id=mission_id)
    body: dict[str, Any] = {"vehicle_id": vehicle_id, "since": since, "until": until, "count": len(page.samples),
                            "next_after": page.next_after}
    if format == "geojson":
        body["track"] = as_geojson(vehicle_id, page.samples)
    else:
        body["items"] = page.samples
    return body


@router.post("/{vehicle_id}/commands", status_code=202, response_model=CommandOut, responses=COMMAND_ERR)
async def send_command(vehicle_id: PathId, body: CommandCreate, session: Session, request: Request) -> Command:
    """Queue an operator command; it is published (QoS 1) on ``lmf/v1/vehicle/{id}/command``
    within a dispatch tick and the agent's ``command_ack`` event fills ``acked``.
    ``handover_confirmed`` is relayed only with the parcel's handover code (403 otherwise; too
    many wrong codes lock the handover and tell the robot to move on)."""
    await get_or_404(session, Vehicle, vehicle_id, "vehicle")
    if body.mission_id is not None:
        m = await session.get(Mission, body.mission_id)
        if m is None or m.vehicle_id != vehicle_id:
            raise Conflict(f"mission {body.mission_id!r} is not a mission of vehicle {vehicle_id!r}")
    if body.action == CommandAction.handover_confirmed:
        assert body.parcel_id is not None   # the schema requires it
        try:
            await check_handover_code(session, vehicle_id, body.parcel_id, body.handover_code,
                                      request.app.state.settings.handover_max_attempts)
        except Exception:
            wake_dispatch(request)   # a lock queued handover_refused: send it now
            raise
    cmd = Command(
        id=uuid.uuid4().hex, vehicle_id=vehicle_id, action=body.action.value, mission_id=body.mission_id,
        parcel_id=body.parcel_id, handover_code=body.handover_code,
    )
    session.add(cmd)
    await session.commit()
    wake_dispatch(request)
    return cmd


@router.get("/{vehicle_id}/commands", response_model=Page[CommandOut], responses=ERR)
async def list_commands(vehicle_id: PathId, session: Session, limit: Limit = 50, offset: Offset = 0,
                        order: Order = SortOrder.asc) -> dict:
    await get_or_404(session, Vehicle, vehicle_id, "vehicle")
    stmt = select(Command).where(Command.vehicle_id == vehicle_id)
    return await paginate(session, stmt, limit, offset, order_by=(Command.created_at, Command.id), order=order)


telemetry_router = APIRouter(prefix="/telemetry", tags=["vehicles"])


@telemetry_router.get("", response_model=Page[TelemetryOut])
async def list_telemetry(session: Session, limit: Limit = 50, offset: Offset = 0,
                         vehicle_id: QueryId = None, order: Order = SortOrder.asc) -> dict:
    """Latest telemetry sample of every vehicle heard from."""
    return await paginate(session, select(TelemetryLatest), limit, offset, {TelemetryLatest.vehicle_id: vehicle_id},
                          order_by=(TelemetryLatest.vehicle_id,), order=order)
