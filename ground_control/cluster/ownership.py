"""Which hubs this replica dispatches: a loop that renews its hub leases every
``lease_renew_interval_s``, claims free hubs up to its fair share and gives up the surplus, and
the fencing check dispatch runs inside each of its write transactions.

:class:`SoleOwner` is the single-process case (SQLite, or leases switched off): it owns every
hub and never refuses a write."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ground_control.cluster import lease_store
from ground_control.cluster.lease import HUB_PREFIX, MEMBER_PREFIX, choose, hub_lease, is_live, member_lease
from ground_control.cluster.lease_store import FencingError
from ground_control.db.models import Hub

log = logging.getLogger(__name__)


class Ownership(Protocol):
    def hubs(self) -> set[str] | None:
        """Hubs this replica may dispatch now; ``None``: all of them (single process)."""

    async def check(self, session: AsyncSession, hub_id: str) -> None:
        """Raise FencingError unless this replica still holds ``hub_id``, in ``session``'s transaction."""


class SoleOwner:
    """One process, one dispatcher: every hub is ours."""

    def hubs(self) -> set[str] | None:
        return None

    async def check(self, session: AsyncSession, hub_id: str) -> None:
        return None


@dataclass(frozen=True)
class Held:
    token: int
    deadline: float     # time.monotonic() after which we stop trusting it without a renewal


@dataclass(frozen=True)
class Change:
    """A hub acquired or lost by this replica (kept for logs, tests and the failover benchmark)."""

    hub_id: str
    acquired: bool
    token: int
    at: float           # time.time()


def holder_id(replica: str) -> str:
    """Unique per process: a restarted replica is a new holder and waits for its old leases to
    expire like anybody else."""
    return f"{replica}/{os.getpid()}-{uuid.uuid4().hex[:8]}"[:160]


class HubOwnership:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], replica: str, ttl_s: float,
                 renew_interval_s: float, on_change: Callable[[], None] | None = None) -> None:
        self.sessionmaker = sessionmaker
        self.me = holder_id(replica)
        self.ttl_s = ttl_s
        self.renew_interval_s = renew_interval_s
        self.on_change = on_change
        self._held: dict[str, Held] = {}
        self.changes: list[Change] = []
        self.refreshes = 0

    def hubs(self) -> set[str]:
        now = time.monotonic()
        return {h for h, held in self._held.items() if now < held.deadline}

    def token(self, hub_id: str) -> int | None:
        held = self._held.get(hub_id)
        return held.token if held is not None and time.monotonic() < held.deadline else None

    async def check(self, session: AsyncSession, hub_id: str) -> None:
        token = self.token(hub_id)
        if token is None:
            raise FencingError(f"hub {hub_id} is not held by {self.me}")
        await lease_store.check_fence(session, hub_lease(hub_id), self.me, token)

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - database away: leases lapse, others take over
                log.warning("lease renewal failed (%s); holding %s until they expire", exc, sorted(self.hubs()))
            await asyncio.sleep(self.renew_interval_s)

    async def refresh(self) -> None:
        """One round: renew membership, then claim / renew / give up hub leases."""
        started = time.monotonic()
        async with self.sessionmaker() as s:
            await lease_store.try_claim(s, member_lease(self.me), self.me, self.ttl_s)
        async with self.sessionmaker() as s:
            now = await lease_store.db_now(s)
            hub_ids = sorted((await s.scalars(select(Hub.id))).all())
            leases = {lease.name[len(HUB_PREFIX):]: lease for lease in await lease_store.read_prefix(s, HUB_PREFIX)}
            members = sum(1 for m in await lease_store.read_prefix(s, MEMBER_PREFIX) if is_live(m, now))
            await s.commit()
        mine = {h for h, lease in leases.items() if lease.holder == self.me}
        free = {h for h in hub_ids if h not in leases or not is_live(leases[h], now)}
        to_claim, surplus = choose(hub_ids, mine, free, members)
        for hub_id in to_claim:
            async with self.sessionmaker() as s:
                got = await lease_store.try_claim(s, hub_lease(hub_id), self.me, self.ttl_s)
            if got is None:
                self._drop(hub_id)
            else:
                self._keep(hub_id, got.token, started)
        for hub_id in surplus:
            self._drop(hub_id)      # stop trusting it first, then let it go
            async with self.sessionmaker() as s:
                await lease_store.give_up(s, hub_lease(hub_id), self.me)
        for hub_id in set(self._held) - set(to_claim):
            self._drop(hub_id)
        if self.refreshes % 20 == 0:
            async with self.sessionmaker() as s:
                await lease_store.forget_expired(s, MEMBER_PREFIX, now - timedelta(seconds=10 * self.ttl_s))
        self.refreshes += 1

    def _keep(self, hub_id: str, token: int, started: float) -> None:
        # counted from before the claim was sent: the database's expiry is later than ours
        if hub_id not in self._held:
            self._note(Change(hub_id, True, token, time.time()))
        self._held[hub_id] = Held(token, started + self.ttl_s)

    def _drop(self, hub_id: str) -> None:
        held = self._held.pop(hub_id, None)
        if held is not None:
            self._note(Change(hub_id, False, held.token, time.time()))

    def _note(self, change: Change) -> None:
        self.changes.append(change)
        log.info("%s hub %s (token %d) as %s", "acquired" if change.acquired else "gave up",
                 change.hub_id, change.token, self.me)
        if self.on_change is not None:
            self.on_change()

    async def release_all(self) -> None:
        """On a graceful stop: free our hubs at once instead of after the TTL."""
        for hub_id in list(self._held):
            self._drop(hub_id)
            try:
                async with self.sessionmaker() as s:
                    await lease_store.give_up(s, hub_lease(hub_id), self.me)
            except Exception as exc:  # noqa: BLE001 - they expire anyway
                log.warning("could not release hub %s: %s", hub_id, exc)
        try:
            async with self.sessionmaker() as s:
                await lease_store.give_up(s, member_lease(self.me), self.me)
        except Exception:  # noqa: BLE001
            pass
