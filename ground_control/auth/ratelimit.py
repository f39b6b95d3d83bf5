"""Brute-force brake for the token endpoint: failed logins are counted per client address and
per user name in a sliding window; past the limit every attempt is refused (429, Retry-After)
without checking the password. In memory, per process."""

from __future__ import annotations

import time
from collections import deque
from typing import Callable


class FailureLimiter:
    def __init__(self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        cutoff = self.clock() - self.window_s
        while q and q[0] <= cutoff:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        q = self._recent(key)
        if len(q) < self.max_failures:
            return None
        return max(1.0, q[-self.max_failures] + self.window_s - self.clock())

    def fail(self, key: str) -> None:
        if key not in self._failures and len(self._failures) >= self.max_keys:
            self._failures.pop(next(iter(self._failures)))   # oldest key: bounded memory under a flood
        self._failures.setdefault(key, deque()).append(self.clock())

    def succeed(self, key: str) -> None:
        self._failures.pop(key, None)
