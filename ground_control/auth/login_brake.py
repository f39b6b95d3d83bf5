"""Brute-force brake for the token endpoint: failed logins are counted per client address and
per user name in a sliding window; past the limit every attempt is refused (429, Retry-After)
without checking the password.

The failures are rows in ``login_failures``, not counters in memory: behind a load balancer
every replica counts the same failures, so N replicas do not allow N times the guesses, and a
restart does not reset the brake. A login is rare (tokens last minutes), so a few small queries
per attempt cost nothing that matters; rows older than the window are pruned as failures come."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.auth.ratelimit import retry_after
from ground_control.db.models import LoginFailure, utcnow


def client_key(address: str) -> str:
    return f"client:{address}"[:200]


def user_key(name: str) -> str:
    return f"user:{name}"[:200]


@dataclass
class LoginBrake:
    """The limits (``app.state.login_brake``); ``clock`` is replaceable for tests."""

    max_per_user: int
    max_per_client: int
    window_s: float
    clock: Callable[[], datetime] = field(default=utcnow)

    @classmethod
    def from_settings(cls, settings: Any) -> "LoginBrake":
        return cls(settings.login_max_failures_per_user, settings.login_max_failures_per_client,
                   settings.login_failure_window_s)

    async def _failures(self, session: AsyncSession, key: str, limit: int, now: datetime) -> list[float]:
        rows = await session.scalars(
            select(LoginFailure.at).where(LoginFailure.key == key, LoginFailure.at > now - timedelta(seconds=self.window_s))
            .order_by(LoginFailure.at.desc()).limit(limit))
        return [t.timestamp() for t in rows]

    async def wait_s(self, session: AsyncSession, user: str, client: str) -> float | None:
        """Seconds before ``user`` from ``client`` may try again; None: now."""
        now = self.clock()
        waits = [retry_after(await self._failures(session, key, limit, now), limit, self.window_s, now.timestamp())
                 for key, limit in ((client_key(client), self.max_per_client), (user_key(user), self.max_per_user))]
        found = [w for w in waits if w is not None]
        return max(found) if found else None

    async def failed(self, session: AsyncSession, user: str, client: str) -> None:
        """Count a failure against both keys and prune what left the window. Commits: the
        request is about to fail, and the failure must count anyway."""
        now = self.clock()
        await session.execute(insert(LoginFailure), [{"key": client_key(client), "at": now},
                                                     {"key": user_key(user), "at": now}])
        await session.execute(delete(LoginFailure).where(LoginFailure.at <= now - timedelta(seconds=self.window_s)))
        await session.commit()

    async def succeeded(self, session: AsyncSession, user: str) -> None:
        """The real user got in: their name's failures are forgiven (not the address's). The
        caller commits."""
        await session.execute(delete(LoginFailure).where(LoginFailure.key == user_key(user)))
