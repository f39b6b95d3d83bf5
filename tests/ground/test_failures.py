"""The transient/permanent rule (pure): a database that is down, busy or lost a race means
"retry the same message later"; anything about the message itself means "set it aside"."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError

from ground_control.ingest.failures import Failure, backoff_s, classify, summary


class PgError(Exception):
    """What asyncpg errors look like through SQLAlchemy's adaptor: a five-character sqlstate."""

    def __init__(self, sqlstate: str, msg: str = "pg") -> None:
        super().__init__(msg)
        self.sqlstate = sqlstate


def wrapped(kind: type[sa_exc.DBAPIError], orig: Exception, invalidated: bool = False) -> sa_exc.DBAPIError:
    return kind("INSERT ...", {}, orig, connection_invalidated=invalidated)


TRANSIENT = [
    ConnectionRefusedError(111, "Connection refused"),
    OSError(113, "No route to host"),
    TimeoutError(),
    asyncio.TimeoutError(),
    StaleDataError("UPDATE statement on table 'missions' expected to update 1 row(s); 0 were matched."),
    sa_exc.TimeoutError("QueuePool limit of size 2 overflow 0 reached"),
    wrapped(sa_exc.OperationalError, sqlite3.OperationalError("database is locked")),
    wrapped(sa_exc.OperationalError, sqlite3.OperationalError("unable to open database file")),
    wrapped(sa_exc.OperationalError, PgError("57P01", "terminating connection due to administrator command")),
    wrapped(sa_exc.OperationalError, PgError("55000", 'database "x" is not currently accepting connections')),
    wrapped(sa_exc.DBAPIError, PgError("08006", "connection failure")),
    wrapped(sa_exc.InterfaceError, Exception("connection is closed")),
    wrapped(sa_exc.DBAPIError, Exception("anything"), invalidated=True),
    wrapped(sa_exc.OperationalError, PgError("40001", "could not serialize access")),
    wrapped(sa_exc.OperationalError, PgError("53300", "too many connections")),
    wrapped(sa_exc.ProgrammingError, PgError("42P01", 'relation "dead_letters" does not exist')),
    wrapped(sa_exc.OperationalError, sqlite3.OperationalError("no such table: events")),
]

PERMANENT = [
    wrapped(sa_exc.DataError, PgError("22003", "value out of int32 range")),
    wrapped(sa_exc.DataError, PgError("22021", "invalid byte sequence for encoding UTF8: 0x00")),
    wrapped(sa_exc.DataError, PgError("22001", "value too long for type character varying(32)")),
    wrapped(sa_exc.IntegrityError, PgError("23502", "null value in column")),
    wrapped(sa_exc.IntegrityError, sqlite3.IntegrityError("NOT NULL constraint failed")),
    OverflowError("Python int too large to convert to SQLite INTEGER"),
    RecursionError("maximum recursion depth exceeded"),
    UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    ValueError("a bug"),
    KeyError("a bug"),
    wrapped(sa_exc.OperationalError, sqlite3.OperationalError("too many SQL variables")),
]


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: f"{type(e).__name__}:{str(e)[:40]}")
def test_transient(exc):
    assert classify(exc) is Failure.transient


@pytest.mark.parametrize("exc", PERMANENT, ids=lambda e: f"{type(e).__name__}:{str(e)[:40]}")
def test_permanent(exc):
    assert classify(exc) is Failure.permanent


def test_cause_chain_counts():
    """A handler that wraps the driver's error in its own still gets the driver's verdict."""
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError as inner:
            raise RuntimeError("store failed") from inner
    except RuntimeError as outer:
        assert classify(outer) is Failure.transient


def test_summary_is_one_bounded_storable_line():
    s = summary(ValueError("a\x00b\n" + "x" * 5000 + "\ud800"), limit=100)
    assert "\x00" not in s and "\n" not in s and len(s) <= 100
    s.encode("utf-8")


def test_backoff_grows_to_its_cap():
    delays = [backoff_s(n, 5.0) for n in range(1, 12)]
    assert delays[0] == 0.1 and delays == sorted(delays) and delays[-1] == 5.0


def test_aggregated_dead_letters_count_and_keep_the_first_and_latest_sample():
    from datetime import datetime, timedelta, timezone

    from ground_control.ingest.dead_letters import Aggregator, make_record

    t0 = datetime(2026, 12, 2, tzinfo=timezone.utc)
    agg = Aggregator()
    for i in range(3):
        agg.add(make_record("lmf/v1/vehicle/d1/telemetry", b"bad %d" % i, "invalid", t0 + timedelta(seconds=i),
                            max_payload_bytes=1024))
    taken = agg.take()
    agg.put_back(taken)
    agg.add(make_record("lmf/v1/vehicle/d1/telemetry", b"bad 3", "invalid", t0 + timedelta(seconds=3), max_payload_bytes=1024))
    (rec,) = agg.take()
    assert (rec.count, rec.payload, rec.first_at, rec.at) == (4, b"bad 3", t0, t0 + timedelta(seconds=3))
    assert rec.vehicle_id == "d1" and rec.channel == "telemetry"
    event = make_record("lmf/v1/vehicle/d1/event", b"\xff" * 2000, "x\x00", t0, max_payload_bytes=1024)
    assert event.payload_size == 2000 and len(event.payload) == 1024 and "\x00" not in event.reason
    odd = make_record("lmf/v1/vehicle/not an id!/event", b"", "r", t0, max_payload_bytes=1024)
    assert odd.vehicle_id is None and odd.channel == "event"
