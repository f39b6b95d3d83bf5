"""Leases in the database (the I/O edge of :mod:`.lease`).

Every change is a compare-and-set on ``(token, holder, expires_at)`` as read, so two replicas
racing for one lease cannot both win, on PostgreSQL or SQLite. On PostgreSQL the row is also
locked while it is read (``FOR UPDATE`` to change it, ``FOR SHARE`` for a fencing check), so a
dispatch write that passed its fencing check commits before anybody can take the lease over:
the check and the write are one transaction, and the lease cannot change hands in between.
Time is the database's clock (``clock_timestamp()``; SQLite: this process's clock, as SQLite
runs in one process)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.cluster.lease import Lease, claim, fence_ok, release
from ground_control.db.models import LeaseRow, utcnow

#: a claim waits at most this long behind a dispatch transaction holding the lease row
LOCK_TIMEOUT_MS = 2000


class FencingError(RuntimeError):
    """This replica no longer holds the lease its write was planned under: the write is refused."""


def _pg(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


async def db_now(session: AsyncSession) -> datetime:
    if _pg(session):
        return (await session.execute(text("SELECT clock_timestamp()"))).scalar_one()
    return utcnow()


async def read(session: AsyncSession, name: str, lock: str | None = None) -> Lease | None:
    """The lease as stored; ``lock`` = "update" | "share" locks the row on PostgreSQL."""
    stmt = select(LeaseRow).where(LeaseRow.name == name).execution_options(populate_existing=True)
    if lock is not None:
        stmt = stmt.with_for_update(read=(lock == "share"))
    row = (await session.scalars(stmt)).one_or_none()
    return None if row is None else Lease(row.name, row.holder, row.token, row.expires_at)


async def read_prefix(session: AsyncSession, prefix: str) -> list[Lease]:
    rows = (await session.scalars(select(LeaseRow).where(LeaseRow.name.startswith(prefix, autoescape=True))
                                  .execution_options(populate_existing=True))).all()
    return [Lease(r.name, r.holder, r.token, r.expires_at) for r in rows]


async def _write(session: AsyncSession, old: Lease | None, new: Lease) -> bool:
    """Compare-and-set: store ``new`` only if the row still is ``old``."""
    values = {"holder": new.holder, "token": new.token, "expires_at": new.expires_at}
    if old is None:
        ins = (postgresql.insert if _pg(session) else sqlite.insert)(LeaseRow)
        res = await session.execute(ins.values(name=new.name, **values).on_conflict_do_nothing(index_elements=["name"]))
        return res.rowcount == 1
    holder_is = LeaseRow.holder.is_(None) if old.holder is None else LeaseRow.holder == old.holder
    res = await session.execute(update(LeaseRow).where(and_(
        LeaseRow.name == old.name, LeaseRow.token == old.token, holder_is, LeaseRow.expires_at == old.expires_at,
    )).values(**values))
    return res.rowcount == 1


async def try_claim(session: AsyncSession, name: str, me: str, ttl_s: float) -> Lease | None:
    """Acquire or renew ``name`` for ``me``; the lease held afterwards, or ``None``. Commits."""
    if _pg(session):
        await session.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
    current = await read(session, name, lock="update")
    new = claim(current, name, me, await db_now(session), ttl_s)
    if new is None or not await _write(session, current, new):
        await session.rollback()
        return None
    await session.commit()
    return new


async def give_up(session: AsyncSession, name: str, me: str) -> bool:
    """Release ``name`` if ``me`` holds it (the others may take it at once). Commits."""
    current = await read(session, name, lock="update")
    new = None if current is None else release(current, me, await db_now(session))
    ok = new is not None and current is not None and await _write(session, current, new)
    await session.commit()
    return ok


async def check_fence(session: AsyncSession, name: str, me: str, token: int) -> None:
    """Raise :class:`FencingError` unless ``me`` still holds ``name`` under ``token``. Call it
    inside the transaction whose writes it guards; on PostgreSQL the row stays share-locked
    until that transaction ends, so nobody takes the lease over before the writes commit."""
    current = await read(session, name, lock="share")
    if not fence_ok(current, me, token, await db_now(session)):
        raise FencingError(f"lease {name} (token {token}) is no longer held by {me}: "
                           f"now {current.holder if current else None} with token {current.token if current else None}")


async def forget_expired(session: AsyncSession, prefix: str, before: datetime) -> int:
    """Delete expired leases under ``prefix`` (gone replicas' membership rows). Commits."""
    res = await session.execute(delete(LeaseRow).where(
        LeaseRow.name.startswith(prefix, autoescape=True), LeaseRow.expires_at < before))
    await session.commit()
    return res.rowcount or 0
