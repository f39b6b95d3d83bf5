"""HTTP side of the operator console.

Roles (the auth layer wraps every router at merge):
- ``GET /`` and ``/console/static/...``: public (static files only; all data comes through the API)
- ``GET /console/config``: viewer (basemap settings the page needs)
- ``GET /console/feed``: viewer (the live feed, Server-Sent Events; read with fetch() streaming so
  the Authorization header goes with it)
- ``GET /alerts``, ``GET /alerts/{id}``: viewer
- ``POST /alerts/{id}/acknowledge``: dispatcher (who acknowledged is the authenticated principal
  when auth provides one on ``request.state.principal``; else the optional ``by`` of the body)
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path

from typing import Annotated

from fastapi import APIRouter, FastAPI, Path as PathParam, Request
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from ground_control.api.deps import Limit, Offset, Order, QueryId, Session
from ground_control.api.schemas import Page
from ground_control.console import assets
from ground_control.console.alert_store import acknowledge
from ground_control.console.alerts import AlertKind
from ground_control.console.live import LiveFeed
from ground_control.db.models import Alert, utcnow
from ground_control.db.repositories import SortOrder, get_or_404, paginate

WEB = Path(__file__).resolve().parent / "web"

router = APIRouter(tags=["console"])
page_router = APIRouter(include_in_schema=False)
AlertId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
ERR = {404: {"description": "unknown alert"}, 422: {"description": "invalid input"}}


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    severity: str
    vehicle_id: str | None
    mission_id: str | None
    parcel_id: str | None
    message: str
    at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$",
                           description="who acknowledges; ignored when the request is authenticated")


class ConsoleConfig(BaseModel):
    tile_url: str
    tile_attribution: str
    feed_interval_s: float
    low_battery_pct: float
    assets_ready: bool


class AlertState(StrEnum):
    open = "open"
    acknowledged = "acknowledged"


@page_router.get("/")
async def console_page() -> FileResponse:
    """The console's single page (replaces the old two-table dashboard)."""
    return FileResponse(WEB / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/console/config", response_model=ConsoleConfig)
async def console_config(request: Request) -> ConsoleConfig:
    s = request.app.state.settings
    return ConsoleConfig(tile_url=s.console_tile_url, tile_attribution=s.console_tile_attribution,
                         feed_interval_s=s.console_feed_interval_s, low_battery_pct=s.console_low_battery_pct,
                         assets_ready=assets.present())


@router.get("/console/feed", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "Server-Sent Events: snapshot, then vehicles / missions / alerts / "
                                            "events / parcels frames (docs/console.md)"}})
async def console_feed(request: Request) -> StreamingResponse:
    """The live feed of this process, shared by every open console."""
    feed: LiveFeed = request.app.state.console_feed
    return StreamingResponse(feed.stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/alerts", response_model=Page[AlertOut])
async def list_alerts(session: Session, request: Request, limit: Limit = 50, offset: Offset = 0,
                      state: AlertState | None = None, kind: AlertKind | None = None, vehicle_id: QueryId = None,
                      order: Order = SortOrder.asc) -> dict:
    """Alerts, oldest first (``order=desc``: newest first); ``state=open`` for the ones nobody acknowledged yet."""
    request.app.state.console_feed.start()   # alerts are derived by the feed: make sure it runs
    stmt = select(Alert)
    if state is AlertState.open:
        stmt = stmt.where(Alert.acknowledged_at.is_(None))
    elif state is AlertState.acknowledged:
        stmt = stmt.where(Alert.acknowledged_at.is_not(None))
    return await paginate(session, stmt, limit, offset, {Alert.kind: kind, Alert.vehicle_id: vehicle_id},
                          order_by=(Alert.id,), order=order)


@router.get("/alerts/{alert_id}", response_model=AlertOut, responses=ERR)
async def get_alert(alert_id: AlertId, session: Session) -> Alert:
    return await get_or_404(session, Alert, alert_id, "alert")


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, responses=ERR)
async def acknowledge_alert(alert_id: AlertId, session: Session, request: Request,
                            body: AcknowledgeIn | None = None) -> Alert:
    """Acknowledge an alert; the first acknowledgement (who, when) is kept."""
    alert = await get_or_404(session, Alert, alert_id, "alert")
    principal = getattr(request.state, "principal", None)
    by = getattr(principal, "name", None) or (body.by if body else None) or "anonymous"
    return await acknowledge(session, alert, by, utcnow())


def install(app: FastAPI) -> None:
    """Routers and the static files; the live feed object (started by the lifespan or the first
    console) lives on ``app.state.console_feed``."""
    app.include_router(page_router)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=WEB, check_dir=False), name="console-static")
