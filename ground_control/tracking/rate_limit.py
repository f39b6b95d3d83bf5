"""Per-client token buckets for the public tracking endpoints: a link is unguessable, but the
endpoint answers anyone, so one client address cannot hammer it (or try tokens) faster than a
page polling would. In memory, per process (each replica limits on its own: a client behind a
load balancer gets up to replicas x rate)."""

from __future__ import annotations

import time
from collections import OrderedDict


class RateLimiter:
    def __init__(self, per_minute: int, max_clients: int = 50_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.max_clients = max_clients
        self._b: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float | None = None) -> float:
        """0 if ``client`` may go on, else the seconds until it may (its Retry-After)."""
        now = time.monotonic() if now is None else now
        tokens, at = self._b.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._b[client] = (tokens, now)
        while len(self._b) > self.max_clients:
            self._b.popitem(last=False)
        return wait
