"""Which daily partitions of ``telemetry_history`` should exist (pure: names and dates only).

A partition covers one UTC day of ``received_at`` (the server's clock, so a vehicle with a wrong
clock can never write into a day that is about to be dropped, nor into a day with no partition).
``telemetry_history_pYYYYMMDD`` covers [that day 00:00, next day 00:00)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

TABLE = "telemetry_history"
_NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")


@dataclass(frozen=True)
class Partition:
    day: date

    @property
    def name(self) -> str:
        return f"{TABLE}_p{self.day:%Y%m%d}"

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(0), tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)


def parse(name: str) -> Partition | None:
    """The partition a table name stands for; ``None`` for anything else (the default partition)."""
    m = _NAME.match(name)
    if not m:
        return None
    try:
        return Partition(datetime.strptime(m.group(1), "%Y%m%d").date())
    except ValueError:
        return None


def wanted(today: date, keep_days: int, ahead_days: int) -> list[Partition]:
    """Days kept (today and the ``keep_days - 1`` before) plus ``ahead_days`` ahead, so a
    sample never waits for its partition even if maintenance pauses for a while."""
    return [Partition(today + timedelta(days=d)) for d in range(-(keep_days - 1), ahead_days + 1)]


def plan(existing: list[str], today: date, keep_days: int, ahead_days: int) -> tuple[list[Partition], list[Partition]]:
    """(partitions to create, partitions to drop): create what is wanted and missing from today
    on (past days are not back-filled), drop every day older than the retention window."""
    have = {p.day: p for p in (parse(n) for n in existing) if p is not None}
    oldest_kept = today - timedelta(days=keep_days - 1)
    create = [p for p in wanted(today, keep_days, ahead_days) if p.day >= today and p.day not in have]
    drop = sorted((p for d, p in have.items() if d < oldest_kept), key=lambda p: p.day)
    return create, drop


def cutoff(now: datetime, keep_days: int) -> datetime:
    """Samples received before this are past retention (SQLite deletes them)."""
    return datetime.combine(now.date() - timedelta(days=keep_days - 1), time(0), tzinfo=timezone.utc)
