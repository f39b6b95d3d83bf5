"""Dead letters: the messages ingest could not handle, with the reason (read-only, plus replay
once the cause is fixed)."""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy import select

from fleet_protocol import ProtocolError
from ground_control.api.deps import Limit, Offset, Order, QueryId, Session
from ground_control.api.schemas import DeadLetterOut, Page, ReplayOut
from ground_control.db.models import DeadLetter
from ground_control.db.repositories import Conflict, SortOrder, get_or_404, paginate
from ground_control.ingest.failures import summary

router = APIRouter(tags=["dead letters"])
ERR = {404: {"description": "unknown dead letter"}, 422: {"description": "invalid input"}}
DeadLetterId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class Channel(StrEnum):
    event = "event"
    telemetry = "telemetry"
    status = "status"
    mission = "mission"
    command = "command"


def _out(dl: DeadLetter) -> dict[str, Any]:
    payload = bytes(dl.payload)
    return {
        "id": dl.id, "topic": dl.topic, "vehicle_id": dl.vehicle_id, "channel": dl.channel, "reason": dl.reason,
        "count": dl.count, "first_seen": dl.first_seen, "last_seen": dl.last_seen, "received_at": dl.received_at,
        "payload_size": dl.payload_size, "payload_truncated": dl.payload_size > len(payload),
        "payload_base64": base64.b64encode(payload).decode("ascii"),
        "payload_text": payload.decode("utf-8", "replace").replace("\x00", "\ufffd"),
    }


@router.get("/dead-letters", response_model=Page[DeadLetterOut])
async def list_dead_letters(session: Session, limit: Limit = 50, offset: Offset = 0,
                            vehicle_id: QueryId = None, channel: Channel | None = None,
                            order: Order = SortOrder.asc) -> dict:
    """By when each was last seen (``order=desc``: newest first)."""
    page = await paginate(session, select(DeadLetter), limit, offset, {
        DeadLetter.vehicle_id: vehicle_id,
        DeadLetter.channel: channel,
    }, order_by=(DeadLetter.last_seen, DeadLetter.id), order=order)
    return {**page, "items": [_out(dl) for dl in page["items"]]}


@router.get("/dead-letters/{dead_letter_id}", response_model=DeadLetterOut, responses=ERR)
async def get_dead_letter(dead_letter_id: DeadLetterId, session: Session) -> dict:
    return _out(await get_or_404(session, DeadLetter, dead_letter_id, "dead letter"))


@router.post("/dead-letters/{dead_letter_id}/replay", response_model=ReplayOut,
             responses={**ERR, 409: {"description": "still fails, or the payload was cut"}})
async def replay_dead_letter(dead_letter_id: DeadLetterId, request: Request, session: Session) -> dict:
    """Run ingest again on the stored message (after the cause was fixed). On success the dead
    letter is deleted; otherwise 409 with the reason it still fails, and it stays."""
    from ground_control.ingest.service import Ingest

    dl = await get_or_404(session, DeadLetter, dead_letter_id, "dead letter")
    payload = bytes(dl.payload)
    if dl.payload_size > len(payload):
        raise Conflict("the payload was cut when it was set aside; it cannot be replayed")
    runtime = request.app.state.runtime
    ingest = runtime.ingest if runtime is not None else Ingest(request.app.state.settings, request.app.state.sessionmaker)
    try:
        await ingest.process(dl.topic, payload)
    except ProtocolError as exc:
        raise Conflict(f"still invalid: {exc.reason}") from None
    except Exception as exc:  # noqa: BLE001 - reported to the operator, the dead letter stays
        raise Conflict(f"still failing: {summary(exc, 500)}") from None
    await session.delete(dl)
    await session.commit()
    return {"id": dead_letter_id, "replayed": True}
