"""Group commit for audit rows: every call waits until its own row is committed, but rows that
arrive while a commit is under way go together in the next one. Under concurrent writes this
turns one extra transaction per call into one per batch (SQLite has a single writer)."""

from __future__ import annotations

import asyncio
from typing import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ground_control.db.models import AuditEntry


class AuditWriter:
    def __init__(self, sessionmaker: Callable[[], async_sessionmaker[AsyncSession]]) -> None:
        self.sessionmaker = sessionmaker    # looked up per batch: the app's current one
        self._pending: list[tuple[AuditEntry, asyncio.Future[None]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def write(self, entry: AuditEntry) -> None:
        """Returns once ``entry`` is committed; raises what the commit raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, done))
        if self._drainer is None or self._drainer.done():
            # a task of its own: a caller that goes away (client disconnect) does not cancel
            # the commit the others wait on
            self._drainer = asyncio.create_task(self._drain(), name="audit-writer")
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self.sessionmaker()() as session:
                    session.add_all([entry for entry, _ in batch])
                    await session.commit()
            except Exception as exc:  # noqa: BLE001 - handed to each waiting caller
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
