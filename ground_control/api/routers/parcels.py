"""Parcels: creation (one or bulk import), tracking, history, proof of delivery, and the few
state changes an operator may make by hand (all checked by the lifecycle state machine).

Roles (auth.policy): create/import admin, dispatcher, integrator; read admin, dispatcher,
viewer, integrator; transitions and delete admin, dispatcher. A principal limited to hubs only
sees and creates its hubs' parcels."""

from __future__ import annotations

import json
from typing import Any, Sequence

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from starlette.exceptions import HTTPException

from ground_control.api.deps import Limit, Offset, Order, PathId, QueryId, Session, wake_dispatch
from ground_control.api.handover import handover_secret, issue_codes
from ground_control.api.parcel_import import ImportFormatError, parse_csv, parse_geojson
from ground_control.auth.dependencies import hub_scope, require_hub
from ground_control.api.schemas import HistoryOut, Page, ParcelCreate, ParcelOut, TransitionRequest
from ground_control.db.models import Hub, Mission, Parcel, ParcelHistory
from ground_control.db.repositories import (
    Conflict, Invalid, NotFound, SortOrder, apply_transitions, get_or_404, paginate, record_created,
)
from ground_control.dispatch.reassign import ACTIVE_MISSION_STATES
from ground_control.domain.custody import operator_refusal
from ground_control.domain.parcel_lifecycle import ParcelState
from ground_control.tracking import token as tracking_token
from ground_control.tracking.service import issue_tracking

router = APIRouter(prefix="/parcels", tags=["parcels"])
ERR = {404: {"description": "unknown parcel"}, 409: {"description": "conflict or illegal transition"},
       422: {"description": "invalid input"}}
MAX_IMPORT_BYTES = 10_000_000


def _row(p: ParcelCreate) -> Parcel:
    return Parcel(
        id=p.id, weight_kg=p.weight_kg,
        size=(p.size or p.dims_cm.size_class()).value,  # type: ignore[union-attr]
        dims_cm=p.dims_cm.model_dump() if p.dims_cm else None,
        hub_id=p.hub_id, lat=p.lat, lon=p.lon, address=p.address,
        recipient_name=p.recipient.name, recipient_phone=p.recipient.phone, recipient_email=p.recipient.email,
        earliest=p.time_window.earliest if p.time_window else None,
        latest=p.time_window.latest if p.time_window else None,
        priority=p.priority, state=ParcelState.created.value, attempts=0, excluded_vehicles=[],
    )


async def _with_codes(request: Request, session: Session, rows: list[Parcel]) -> None:
    """Give each new parcel its handover code (the row keeps salt and hash; the code itself is
    shown only on the recipient's tracking page, derived again from the secret) and its tracking
    token (the row keeps nonce and hash)."""
    settings = request.app.state.settings
    codes = await issue_codes(settings, session, len(rows))
    for p, c in zip(rows, codes):
        p.handover_salt, p.handover_hash = c.salt, c.hash
    await issue_tracking(settings, session, rows)


async def _out(request: Request, session: Session, rows: Sequence[Parcel]) -> list[ParcelOut]:
    """Rows as the API shows them, each with its ``tracking_url`` (derived from the secret)."""
    settings = request.app.state.settings
    secret = await handover_secret(settings, session) if any(p.tracking_nonce for p in rows) else b""
    out = []
    for p in rows:
        url = (tracking_token.tracking_url(settings.public_base_url, tracking_token.derive_token(secret, p.tracking_nonce))
               if p.tracking_nonce else None)
        out.append(ParcelOut.model_validate(p).model_copy(update={"tracking_url": url}))
    return out


@router.post("", status_code=201, response_model=ParcelOut, responses=ERR)
async def create_parcel(body: ParcelCreate, session: Session, request: Request) -> ParcelOut:
    """The answer carries the parcel's ``tracking_url``: the recipient's page, the only place
    that shows the handover code for a robot delivery."""
    require_hub(request, body.hub_id, "origin hub")
    if await session.get(Parcel, body.id) is not None:
        raise Conflict(f"parcel {body.id!r} already exists")
    if await session.get(Hub, body.hub_id) is None:
        raise Invalid(f"origin hub {body.hub_id!r} does not exist")
    parcel = _row(body)
    await _with_codes(request, session, [parcel])
    session.add(parcel)
    await session.flush()
    record_created(session, parcel)
    await session.commit()
    wake_dispatch(request)
    return (await _out(request, session, [parcel]))[0]


IMPORT_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
            "application/geo+json": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@router.post("/import", status_code=201, response_model=Page[ParcelOut], openapi_extra=IMPORT_DOC,
             responses={**ERR, 422: {"description": "per-row errors; nothing was imported"}})
async def import_parcels(request: Request, session: Session) -> dict:
    """CSV (``text/csv`` body or multipart ``file``; columns: id, weight_kg, size, hub_id, lat,
    lon, address, recipient_name, recipient_phone, recipient_email, earliest, latest, priority,
    length_cm, width_cm, height_cm) or a GeoJSON FeatureCollection of Points with the same names
    as properties. All or nothing: any bad row -> 422 listing every row's errors."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if ctype == "multipart/form-data":
            try:
                form = await request.form(max_files=1, max_fields=10)
            except HTTPException:   # the body limit (413)
                raise
            except Exception as exc:  # malformed multipart of any kind is the client's problem
                raise ImportFormatError(f"unreadable multipart body: {exc}"[:300]) from None
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ImportFormatError("multipart body needs a 'file' part")
            raw = await upload.read(MAX_IMPORT_BYTES + 1)
            name = (upload.filename or "").lower()
            kind = "geojson" if name.endswith((".json", ".geojson")) else "csv"
        elif ctype in ("text/csv", "text/plain"):
            raw, kind = await request.body(), "csv"
        elif ctype in ("application/json", "application/geo+json"):
            raw, kind = await request.body(), "geojson"
        else:
            return Response(status_code=415, content=json.dumps({"detail": f"unsupported content type {ctype!r}; use text/csv, multipart/form-data or application/geo+json"}), media_type="application/json")  # type: ignore[return-value]
        if len(raw) > MAX_IMPORT_BYTES:
            raise ImportFormatError(f"file larger than {MAX_IMPORT_BYTES} bytes")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportFormatError("file is not UTF-8") from None
        if kind == "csv":
            parsed = parse_csv(text)
        else:
            try:
                doc = json.loads(text)
            except (ValueError, RecursionError) as exc:
                raise ImportFormatError(f"not JSON: {exc}"[:300]) from None
            parsed = parse_geojson(doc)
    except ImportFormatError as exc:
        return Response(status_code=422, content=json.dumps({"detail": str(exc)}), media_type="application/json")  # type: ignore[return-value]

    ids = [p.id for p in parsed.parcels]
    existing = set((await session.scalars(select(Parcel.id).where(Parcel.id.in_(ids)))).all()) if ids else set()
    named = set(parsed.hub_ids.values())
    for hub_id in sorted(named):
        require_hub(request, hub_id, "origin hub")
    hubs = set((await session.scalars(select(Hub.id).where(Hub.id.in_(named)))).all()) if named else set()
    parsed.check_references(hubs, existing)
    errors = parsed.errors
    if errors:
        return Response(status_code=422, media_type="application/json", content=json.dumps(  # type: ignore[return-value]
            {"detail": "import refused; nothing was imported", "errors": errors[:1000], "error_count": len(errors)}))
    rows = [_row(p) for p in parsed.parcels]
    await _with_codes(request, session, rows)
    session.add_all(rows)
    await session.flush()
    for p in rows:
        record_created(session, p)
    await session.commit()
    wake_dispatch(request)
    items = await _out(request, session, rows)
    return {"items": items, "total": len(rows), "limit": len(rows), "offset": 0}


@router.get("", response_model=Page[ParcelOut])
async def list_parcels(
    request: Request, session: Session, limit: Limit = 50, offset: Offset = 0, state: ParcelState | None = None,
    hub_id: QueryId = None, vehicle_id: QueryId = None, mission_id: QueryId = None,
    waiting: bool | None = None, waiting_reason: QueryId = None, order: Order = SortOrder.asc,
) -> dict:
    """``waiting=true``: parcels that say why they wait; ``waiting_reason=CODE``: those whose
    reason has that code (no_vehicle, excluded, busy, too_heavy, proof_rejected, ...)."""
    stmt = select(Parcel)
    if (hubs := hub_scope(request)) is not None:
        stmt = stmt.where(Parcel.hub_id.in_(hubs))
    if waiting is not None:
        stmt = stmt.where(Parcel.waiting_reason.is_not(None) if waiting else Parcel.waiting_reason.is_(None))
    if waiting_reason is not None:
        stmt = stmt.where(Parcel.waiting_reason.startswith(f"{waiting_reason}:", autoescape=True))
    page = await paginate(session, stmt, limit, offset, {
        Parcel.state: state,
        Parcel.hub_id: hub_id,
        Parcel.vehicle_id: vehicle_id,
        Parcel.mission_id: mission_id,
    }, order_by=(Parcel.created_at, Parcel.id), order=order)
    page["items"] = await _out(request, session, page["items"])
    return page


@router.get("/{parcel_id}", response_model=ParcelOut, responses=ERR)
async def get_parcel(parcel_id: PathId, session: Session, request: Request) -> ParcelOut:
    """The parcel with its ``tracking_url`` (never its handover code)."""
    return (await _out(request, session, [await get_or_404(session, Parcel, parcel_id, "parcel")]))[0]


@router.get("/{parcel_id}/history", response_model=Page[HistoryOut], responses=ERR)
async def parcel_history(parcel_id: PathId, session: Session, limit: Limit = 50, offset: Offset = 0,
                         order: Order = SortOrder.asc) -> dict:
    """The parcel's state changes, a page like every other list."""
    await get_or_404(session, Parcel, parcel_id, "parcel")
    stmt = select(ParcelHistory).where(ParcelHistory.parcel_id == parcel_id)
    return await paginate(session, stmt, limit, offset, order_by=(ParcelHistory.id,), order=order)


@router.get("/{parcel_id}/proof", responses=ERR)
async def proof_of_delivery(parcel_id: PathId, session: Session) -> dict[str, Any]:
    """The vehicle's proof of delivery (position, distance from target, time, method, confirmed),
    and ``signed``: the vehicle's signed statement (the exact bytes of its ``delivered`` event),
    signature, key id and public key, which ``fleet verify-proof`` checks with nothing else;
    ``null`` when the vehicle had no registered key."""
    parcel = await get_or_404(session, Parcel, parcel_id, "parcel")
    if parcel.proof is None:
        raise NotFound(f"parcel {parcel_id!r} has no proof of delivery (state {parcel.state})")
    signed = None if parcel.proof_signature is None else {
        "alg": "ed25519", "statement": parcel.proof_signed, "signature": parcel.proof_signature,
        "key_id": parcel.proof_key_id, "public_key": parcel.proof_public_key}
    return {**parcel.proof, "parcel_id": parcel.id, "signed": signed}


@router.post("/{parcel_id}/transitions", response_model=ParcelOut, responses=ERR)
async def operator_transition(parcel_id: PathId, body: TransitionRequest, session: Session, request: Request) -> ParcelOut:
    """Manual state change by an operator: a parcel not aboard any vehicle back to planning
    (``created``) or to the sender (``returned``), e.g. a failed or lost one found at the hub.
    A parcel aboard a vehicle answers 409 with how to get it back (command the vehicle, or
    declare it lost); ``delivered`` needs a vehicle's proof."""
    parcel = await get_or_404(session, Parcel, parcel_id, "parcel")
    mission = await session.get(Mission, parcel.mission_id) if parcel.mission_id else None
    refusal = operator_refusal(ParcelState(parcel.state), body.to,
                               mission_active=mission is not None and mission.state in ACTIVE_MISSION_STATES,
                               vehicle_id=parcel.vehicle_id, mission_id=parcel.mission_id)
    if refusal is not None:
        raise Conflict(refusal)
    apply_transitions(session, parcel, body.to, f"operator: {body.reason}")
    await session.commit()
    wake_dispatch(request)
    return (await _out(request, session, [parcel]))[0]


@router.delete("/{parcel_id}", status_code=204, responses=ERR)
async def delete_parcel(parcel_id: PathId, session: Session) -> Response:
    parcel = await get_or_404(session, Parcel, parcel_id, "parcel")
    if parcel.state != ParcelState.created.value:
        raise Conflict(f"parcel {parcel_id!r} is {parcel.state}; only parcels not yet planned can be deleted")
    await session.delete(parcel)
    await session.commit()
    return Response(status_code=204)
