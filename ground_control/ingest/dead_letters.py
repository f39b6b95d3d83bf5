"""Dead letters: messages ingest could not handle, kept with their reason in ``dead_letters``.

Events are kept one row per distinct message (topic + payload hash: a redelivered poison
message counts up instead of adding rows). Invalid telemetry and status are kept cheap: they may
arrive at several Hz per vehicle, so :class:`Aggregator` collects them in memory, one row per
vehicle and channel (the latest bad sample, its reason, and how many there were), written at
most every ``dead_letter_flush_interval_s``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from fleet_protocol import topics
from ground_control.db.models import DeadLetter

#: channels whose invalid messages are aggregated per vehicle instead of kept one by one
AGGREGATED_CHANNELS = frozenset({"telemetry", "status"})
_VEHICLE_ID = re.compile(topics.VEHICLE_ID_PATTERN)


@dataclass(frozen=True)
class DeadLetterRecord:
    fingerprint: str
    topic: str
    vehicle_id: str | None
    channel: str | None
    payload: bytes
    payload_size: int
    reason: str
    count: int
    at: datetime                 # when this (the latest) sample arrived
    first_at: datetime | None = None   # aggregated: when the first of ``count`` arrived


def _clean(text: str, limit: int) -> str:
    """Text any database column takes: no NUL, no lone surrogates, bounded."""
    text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:limit]


def make_record(topic: str, payload: bytes | str, reason: str, at: datetime, *, max_payload_bytes: int) -> DeadLetterRecord:
    """Build the row for one message. Pure. The vehicle id comes from the topic (the only part a
    broker ACL vouches for), and only when it is a valid id."""
    raw = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else bytes(payload)
    parsed = topics.parse(topic)
    channel = parsed.channel if parsed else None
    vehicle_id = parsed.vehicle_id if parsed and _VEHICLE_ID.match(parsed.vehicle_id) else None
    clean_topic = _clean(topic, 512)
    if channel in AGGREGATED_CHANNELS:
        key = vehicle_id or hashlib.sha256(topic.encode("utf-8", "surrogatepass")).hexdigest()
        fingerprint = f"{channel}:{key}"
    else:
        digest = hashlib.sha256(topic.encode("utf-8", "surrogatepass") + b"\x00" + raw).hexdigest()
        fingerprint = f"msg:{digest}"
    return DeadLetterRecord(
        fingerprint=fingerprint, topic=clean_topic, vehicle_id=vehicle_id, channel=channel,
        payload=raw[:max_payload_bytes], payload_size=len(raw), reason=_clean(reason, 2000), count=1, at=at,
    )


async def store(session: AsyncSession, records: list[DeadLetterRecord]) -> None:
    """Insert, or count up the row with the same fingerprint (keeping the latest sample and
    reason). Commits."""
    if not records:
        return
    dialect = session.bind.dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(DeadLetter)
    stmt = ins.on_conflict_do_update(
        index_elements=["fingerprint"],
        set_={
            "count": DeadLetter.count + ins.excluded["count"], "last_seen": ins.excluded.last_seen,
            "reason": ins.excluded.reason, "payload": ins.excluded.payload,
            "payload_size": ins.excluded.payload_size, "received_at": ins.excluded.received_at,
        },
    )
    await session.execute(stmt, [
        {"fingerprint": r.fingerprint, "topic": r.topic, "vehicle_id": r.vehicle_id, "channel": r.channel,
         "payload": r.payload, "payload_size": r.payload_size, "reason": r.reason, "count": r.count,
         "first_seen": r.first_at or r.at, "last_seen": r.at, "received_at": r.at}
        for r in records
    ])
    await session.commit()


class Aggregator:
    """Invalid telemetry/status waiting to be written: one record per fingerprint, counting."""

    def __init__(self) -> None:
        self.pending: dict[str, DeadLetterRecord] = {}

    def add(self, rec: DeadLetterRecord) -> None:
        old = self.pending.get(rec.fingerprint)
        if old is not None:
            rec = replace(rec, count=old.count + rec.count, first_at=old.first_at or old.at)
        self.pending[rec.fingerprint] = rec

    def take(self) -> list[DeadLetterRecord]:
        out, self.pending = list(self.pending.values()), {}
        return out

    def put_back(self, records: list[DeadLetterRecord]) -> None:
        """After a failed write: merge the records back in (counts add up, newest sample wins)."""
        newer, self.pending = self.pending, {}
        for rec in records:
            self.add(rec)
        for rec in newer.values():
            self.add(rec)

    def __len__(self) -> int:
        return len(self.pending)
