"""The delivery worker: runs in every ground-control replica beside the dispatcher. Each round
fans new outbox events out to subscriptions, claims due deliveries (a lease, so replicas share
the work and a replica that dies mid-send only delays its claims by the lease), sends them
concurrently with httpx and records each attempt."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ground_control.db.models import utcnow
from ground_control.settings import Settings
from ground_control.webhooks import url_policy
from ground_control.webhooks.outbox import notify_on_commit
from ground_control.webhooks.queue import Claimed, Outcome, RetryPolicy, claim, fan_out, record
from ground_control.webhooks.signer import HEADER, header_value

log = logging.getLogger(__name__)
USER_AGENT = "lastmile-fleet-webhooks/1"


def headers_for(c: Claimed, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Fleet-Event-Id": c.event_id,
        "X-Fleet-Event-Type": c.event_type,
        "X-Fleet-Delivery-Attempt": str(c.attempt),
        HEADER: header_value(c.secret, timestamp, c.body),
    }


class DeliveryWorker:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession],
                 client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.policy = RetryPolicy(settings.webhooks_retry_base_s, settings.webhooks_retry_cap_s,
                                  settings.webhooks_max_attempts, settings.webhooks_disable_after_failures)
        # redirects are not followed: a 3xx to an internal address would bypass the URL check
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(settings.webhooks_timeout_s),
                                                  follow_redirects=False)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        unsubscribe = notify_on_commit(self.wake)
        try:
            while True:
                try:
                    busy = await self.round()
                except asyncio.CancelledError:
                    raise
                except Exception:   # noqa: BLE001 - a database hiccup; the rows wait for the next round
                    log.exception("webhook delivery round failed")
                    busy = 0
                if busy:   # sending one of a parcel's events may have made its next one due
                    continue
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.settings.webhooks_poll_interval_s)
                except asyncio.TimeoutError:
                    pass
        finally:
            unsubscribe()
            await self.client.aclose()

    async def round(self) -> int:
        """Fan out, claim, send, record; returns how many deliveries were attempted."""
        async with self.sessionmaker() as s:
            while await fan_out(s) >= 500:
                pass
        async with self.sessionmaker() as s:
            claimed = await claim(s, utcnow(), self.settings.webhooks_batch, self.settings.webhooks_lease_s)
        outcomes = await asyncio.gather(*(self.send(c) for c in claimed))
        async with self.sessionmaker() as s:
            await record(s, list(zip(claimed, outcomes)), self.policy)
        return len(claimed)

    async def send(self, c: Claimed) -> Outcome:
        at = utcnow()
        t0 = time.perf_counter()
        try:
            await url_policy.check(c.url, self.settings.webhooks_allow_private)
            r = await self.client.post(c.url, content=c.body, headers=headers_for(c, int(time.time())))
            status, error = r.status_code, None if r.is_success else f"HTTP {r.status_code}: {r.text[:300]}"
        except url_policy.UrlRefused as exc:
            status, error = None, f"refused: {exc}"
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"[:2000]
        return Outcome(status, error, (time.perf_counter() - t0) * 1000.0, at)
