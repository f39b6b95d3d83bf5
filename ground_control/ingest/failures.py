"""Is a failure to handle a message the message's fault, or the database's?

*Transient*: the database is unreachable, busy or lost a race (connection refused or dropped,
timeouts, PostgreSQL connection/shutdown/resource/serialisation SQLSTATEs, SQLite "locked",
an optimistic-lock ``StaleDataError``). Trying the same message again later will work, so it
stays unacknowledged and nothing is set aside: a database outage must never turn good events
into dead letters.

*Permanent*: everything else (``DataError``, ``IntegrityError``, value out of range, NUL or
encoding errors, ``RecursionError``, a bug in a handler). The same message will fail the same
way forever, so it is set aside as a dead letter and acknowledged.

Pure: looks only at the exception, its ``orig`` (the DB driver's error) and its causes.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError


class Failure(StrEnum):
    transient = "transient"
    permanent = "permanent"


#: PostgreSQL SQLSTATE classes/codes that say "the server, not your data": 08 connection
#: exception, 53 insufficient resources, 57 operator intervention (admin shutdown, cannot
#: connect now), 58 system error, 40 transaction rollback (serialisation failure, deadlock),
#: 55P03 lock not available, 55000 "database is not currently accepting connections".
_PG_TRANSIENT_CLASSES = ("08", "53", "57", "58", "40")
#: 42P01/42703 undefined table/column: the schema is behind the code (a deploy mid-migration),
#: not the message's fault.
_PG_TRANSIENT_CODES = frozenset({"55P03", "55000", "55006", "42P01", "42703"})
_PG_PERMANENT_CLASSES = ("22", "23", "42")   # data exception, integrity, syntax/undefined

#: SQLite reports a locked or unopenable database as OperationalError with these words.
_SQLITE_TRANSIENT_WORDS = ("locked", "busy", "unable to open", "disk i/o", "readonly", "read-only",
                           "no such table", "no such column")


def _sqlstate(exc: BaseException) -> str | None:
    for obj in (exc, getattr(exc, "orig", None)):
        code = getattr(obj, "sqlstate", None) or getattr(obj, "pgcode", None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, the driver error it wraps, and its causes/contexts (bounded)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return seen


def _one(exc: BaseException) -> Failure | None:
    """The verdict this exception alone gives, or None when it says nothing either way."""
    if isinstance(exc, RecursionError):
        return Failure.permanent
    if isinstance(exc, (StaleDataError, sa_exc.TimeoutError, asyncio.TimeoutError, TimeoutError,
                        ConnectionError, sa_exc.DisconnectionError)):
        return Failure.transient
    if isinstance(exc, OSError):
        return Failure.transient   # socket errors: connection refused, host unreachable
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return Failure.transient
    code = _sqlstate(exc)
    if code is not None:
        if code.startswith(_PG_TRANSIENT_CLASSES) or code in _PG_TRANSIENT_CODES:
            return Failure.transient
        if code.startswith(_PG_PERMANENT_CLASSES):
            return Failure.permanent
    if isinstance(exc, (sa_exc.DataError, sa_exc.IntegrityError, sa_exc.ProgrammingError)):
        return Failure.permanent
    if isinstance(exc, sa_exc.OperationalError):
        text = str(exc).lower()
        if any(w in text for w in _SQLITE_TRANSIENT_WORDS):
            return Failure.transient
        if code is None and "sqlite" not in text:
            return Failure.transient   # a server-side operational error without detail: retry
        return Failure.permanent
    if isinstance(exc, sa_exc.InterfaceError):
        return Failure.transient   # the driver lost its connection (e.g. asyncpg "connection is closed")
    name = type(exc).__name__
    if name in ("ConnectionDoesNotExistError", "InterfaceError", "InternalClientError",
                "CannotConnectNowError", "TooManyConnectionsError"):
        return Failure.transient   # raw asyncpg errors that escaped SQLAlchemy's wrapping
    return None


def classify(exc: BaseException) -> Failure:
    """Transient if anything in the chain says so before anything says permanent; permanent
    otherwise (an unknown exception is the message's problem: retrying it forever would block
    every other vehicle's events)."""
    for e in _chain(exc):
        verdict = _one(e)
        if verdict is not None:
            return verdict
    return Failure.permanent


def summary(exc: BaseException, limit: int = 1000) -> str:
    """``Type: message`` on one line, bounded and free of NUL, for the dead letter's reason."""
    text = f"{type(exc).__name__}: {exc}".replace("\x00", "\\x00")
    text = " ".join(text.split())
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:limit]


def backoff_s(attempt: int, cap_s: float) -> float:
    """Delay before retry ``attempt`` (1-based): 0.1 s doubling up to ``cap_s``."""
    return min(cap_s, 0.1 * 2 ** min(max(attempt - 1, 0), 16))
