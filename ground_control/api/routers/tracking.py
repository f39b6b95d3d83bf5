"""The recipient's tracking link. Every endpoint here is PUBLIC (role: public, no credential):
the unguessable token in the path is the credential, so the auth layer must leave ``/track/``
open. Rate-limited per client address (``FLEET_TRACKING_RATE_PER_MIN``).

* ``GET /track/{token}``: the mobile page (HTML, self-contained, no CDN);
* ``GET /track/{token}/status``: what the page shows, as JSON (the page's fallback poll);
* ``GET /track/{token}/events``: the same JSON pushed as Server-Sent Events whenever it changes
  (``tracking.push``); open streams are limited per client address and per process (429);
* ``POST /track/{token}/drop-spot`` ``{lat, lon}``: the recipient confirms a drone's drop spot
  before the parcel is dispatched (422 with the reason; 409 once it is too late).

An unknown token and a malformed one answer the same plain 404, after the same work (the token
is hashed and looked up either way)."""

from __future__ import annotations

import secrets
from typing import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from pydantic import BaseModel, ConfigDict, Field

from ground_control.api.deps import Session
from ground_control.db.models import Parcel
from ground_control.tracking import page, push
from ground_control.tracking.drop_spot import DropSpotRefused, DropSpotTooLate
from ground_control.tracking.rate_limit import RateLimiter
from ground_control.tracking.service import find_by_token, public_status, set_drop_spot
from ground_control.tracking.stream_slots import Slot, StreamSlots

router = APIRouter(prefix="/track", tags=["tracking (public)"])
NOT_FOUND_BODY = b'{"detail":"Not Found"}'
#: the token travels in the URL: keep it out of referrers, caches and search engines
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
ERR = {404: {"description": "unknown (or malformed) token"}, 429: {"description": "too many requests from this client"}}


class DropSpotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)


def _not_found() -> Response:
    return Response(NOT_FOUND_BODY, status_code=404, media_type="application/json", headers=PRIVATE)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _limited(request: Request) -> Response | None:
    limiter: RateLimiter | None = getattr(request.app.state, "tracking_limiter", None)
    if limiter is None:
        limiter = request.app.state.tracking_limiter = RateLimiter(request.app.state.settings.tracking_rate_per_min)
    wait = limiter.allow(_client(request))
    if wait <= 0:
        return None
    return JSONResponse({"detail": "too many requests; try again shortly"}, status_code=429,
                        headers={**PRIVATE, "Retry-After": str(max(1, int(wait + 0.999)))})


async def _parcel(request: Request, session: Session, token: str) -> Parcel | Response:
    refused = _limited(request)
    if refused is not None:
        return refused
    parcel = await find_by_token(session, token)
    return parcel if parcel is not None else _not_found()


@router.get("/{token}", response_class=HTMLResponse, responses=ERR)
async def tracking_page(token: str, request: Request, session: Session) -> Response:
    """The recipient's page: state timeline, ETA with its band, the vehicle on a small map while
    it heads to this recipient, the handover code for a robot, the drop spot, the proof."""
    got = await _parcel(request, session, token)
    if isinstance(got, Response):
        return got
    status = await public_status(request.app.state.settings, session, got)
    nonce = secrets.token_urlsafe(16)
    csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; connect-src 'self'; "
           "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return HTMLResponse(page.render(status, nonce), headers={**PRIVATE, "Content-Security-Policy": csp})


@router.get("/{token}/status", responses=ERR)
async def tracking_status(token: str, request: Request, session: Session) -> Response:
    """What the page shows, as JSON: ``state``, ``timeline``, ``eta`` {eta, low, high, seconds,
    basis}, ``vehicle`` and ``path`` (only while it heads to this recipient), ``handover_code``,
    ``drop_spot``, ``proof`` (delivered_at, method, position, target, distance_m, confirmed, observed)."""
    got = await _parcel(request, session, token)
    if isinstance(got, Response):
        return got
    return JSONResponse(await public_status(request.app.state.settings, session, got), headers=PRIVATE)


def _slots(request: Request) -> StreamSlots:
    slots: StreamSlots | None = getattr(request.app.state, "tracking_streams", None)
    if slots is None:
        settings = request.app.state.settings
        slots = request.app.state.tracking_streams = StreamSlots(settings.tracking_streams_per_client,
                                                                 settings.tracking_streams_max)
    return slots


async def _holding(events: AsyncIterator[bytes], slot: Slot) -> AsyncIterator[bytes]:
    """The stream, giving its slot back however it ends (finished, client gone, error)."""
    try:
        async for chunk in events:
            yield chunk
    finally:
        slot.release()


@router.get("/{token}/events", response_class=StreamingResponse, responses={
    **ERR, 200: {"content": {"text/event-stream": {}},
                 "description": "Server-Sent Events: a `status` event (the /status JSON) at once and on every "
                                "change, `: keep-alive` comments; ends after a delivered/returned parcel's final "
                                "status or after FLEET_TRACKING_STREAM_MAX_S (docs/tracking.md)"},
    429: {"description": "too many requests, or too many open streams from this client / on this server"}})
async def tracking_events(token: str, request: Request) -> Response:
    """Live updates for the page, pushed instead of polled. The session is opened here, not as a
    dependency: a stream lasts minutes and must not hold a database connection all along."""
    refused = _limited(request)
    if refused is not None:
        return refused
    async with request.app.state.sessionmaker() as session:
        parcel = await find_by_token(session, token)
        parcel_id = parcel.id if parcel is not None else None
    if parcel_id is None:
        return _not_found()
    slot = _slots(request).acquire(_client(request))
    if isinstance(slot, str):
        return JSONResponse({"detail": slot}, status_code=429, headers={**PRIVATE, "Retry-After": "30"})
    settings = request.app.state.settings
    events = push.status_events(request.app.state.sessionmaker, settings, parcel_id,
                                interval_s=settings.tracking_push_interval_s, max_s=settings.tracking_stream_max_s)
    # the background task frees the slot too if the stream never started (client gone at once)
    return StreamingResponse(_holding(events, slot), media_type="text/event-stream",
                             headers={**PRIVATE, "X-Accel-Buffering": "no"}, background=BackgroundTask(slot.release))


@router.post("/{token}/drop-spot", responses={**ERR, 409: {"description": "already dispatched"},
                                                422: {"description": "spot refused, with the reason"}})
async def confirm_drop_spot(token: str, body: DropSpotIn, request: Request, session: Session) -> Response:
    """Confirm where a drone should drop the parcel: within ``FLEET_DROP_SPOT_RADIUS_M`` of the
    address, inside the service area, clear of no-fly zones, before dispatch. Answers the new status."""
    got = await _parcel(request, session, token)
    if isinstance(got, Response):
        return got
    settings = request.app.state.settings
    try:
        await set_drop_spot(settings, session, got, body.lat, body.lon)
    except DropSpotRefused as exc:
        return JSONResponse({"detail": str(exc)}, status_code=409 if isinstance(exc, DropSpotTooLate) else 422,
                            headers=PRIVATE)
    wake = getattr(request.app.state, "wake_dispatch", None)
    if wake is not None:
        wake()
    return JSONResponse(await public_status(settings, session, got), headers=PRIVATE)
