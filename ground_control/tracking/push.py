"""The live tracking stream: a recipient's page gets its public status pushed (Server-Sent
Events) instead of polling ``/status``.

Each stream reads the database, not MQTT: with shared MQTT subscriptions no replica sees every
vehicle's telemetry, but every replica sees the database (the operator console's live feed does
the same, ``console.live``). About once a second it reads a cheap *fingerprint* of what the
status depends on (the parcel row, its mission, the vehicle's latest telemetry time, the other
parcels of the mission); only when that changed, or every ``REFRESH_S`` (the ETA ages with the
clock), it builds the full status, and it sends a frame only when the JSON the recipient would
see differs from the last one sent. Same builder as ``/status`` (``service.public_status``), so
the same privacy rules (``view``) hold.

A stream ends after the final status of a delivered or returned parcel, when the parcel is gone,
or after ``max_s`` (the browser's EventSource reconnects; a stream is never held forever)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, AsyncIterator, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from ground_control.db.models import Mission, Parcel, TelemetryLatest
from ground_control.settings import Settings
from ground_control.tracking.service import public_status

log = logging.getLogger(__name__)

#: the parcel will not change any more: send its last status and end
FINAL_STATES = frozenset({"delivered", "returned"})
KEEPALIVE_S = 15.0     # a comment line: proxies and phones keep an idle connection open
REFRESH_S = 10.0       # rebuild even with an unchanged fingerprint: the ETA depends on the clock
RETRY_MS = 3000        # how soon the browser reconnects after a stream ended


def frame(status: dict[str, Any]) -> bytes:
    """One ``status`` event: the same JSON as ``GET /track/{token}/status``."""
    return b"event: status\ndata: " + json.dumps(status, separators=(",", ":")).encode() + b"\n\n"


async def fingerprint(session: AsyncSession, parcel_id: str) -> tuple[Any, ...] | None:
    """One small query for what the public status depends on; None when the parcel is gone."""
    sibling = aliased(Parcel)
    siblings = (select(func.max(sibling.updated_at)).where(sibling.mission_id == Parcel.mission_id)
                .scalar_subquery())
    row = (await session.execute(
        select(Parcel.updated_at, Parcel.state, Parcel.mission_id, Mission.state, Mission.updated_at,
               TelemetryLatest.ts, siblings)
        .outerjoin(Mission, Mission.id == Parcel.mission_id)
        .outerjoin(TelemetryLatest, TelemetryLatest.vehicle_id == Mission.vehicle_id)
        .where(Parcel.id == parcel_id))).first()
    return None if row is None else tuple(row)


async def status_events(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, parcel_id: str, *,
                        interval_s: float, max_s: float, keepalive_s: float = KEEPALIVE_S,
                        refresh_s: float = REFRESH_S,
                        clock: Callable[[], float] = time.monotonic) -> AsyncIterator[bytes]:
    """The stream of one tracking page: the status at once, then every change, keep-alives in
    between. Each read uses its own short session: no connection is held while waiting."""
    started = clock()
    sent_at = started
    last_fp: tuple[Any, ...] | None = None
    built_at = float("-inf")
    last_body: bytes | None = None
    first = True
    while True:
        now = clock()
        body = None
        state = None
        try:
            async with sessionmaker() as session:
                fp = await fingerprint(session, parcel_id)
                if fp is None:
                    return                                  # deleted: nothing more to show
                state = fp[1]
                if fp != last_fp or now - built_at >= refresh_s:
                    parcel = await session.get(Parcel, parcel_id)
                    if parcel is None:
                        return
                    status = await public_status(settings, session, parcel)
                    state = status["state"]
                    last_fp, built_at = fp, now
                    body = frame(status)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - end this stream; the browser reconnects (or polls)
            log.exception("tracking stream of %s: database read failed; ending the stream", parcel_id)
            return
        if body is not None and body != last_body:
            yield (f"retry: {RETRY_MS}\n\n".encode() + body) if first else body
            first, last_body, sent_at = False, body, now
        if state in FINAL_STATES and last_body is not None:
            return
        if now - started >= max_s:
            return
        if now - sent_at >= keepalive_s:
            yield b": keep-alive\n\n"
            sent_at = now
        await asyncio.sleep(interval_s)
