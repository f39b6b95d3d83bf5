"""When a key (a client address, a user name) may try to log in again, given the times of its
recent failures: past ``max_failures`` in the sliding window, not before the oldest of the last
``max_failures`` leaves it. Pure; the failures themselves live in the database
(``login_brake``) so every replica counts the same ones."""

from __future__ import annotations

from typing import Sequence


def retry_after(failures: Sequence[float], max_failures: int, window_s: float, now: float) -> float | None:
    """Seconds until the next attempt is allowed, or None when it is allowed now.
    ``failures``: epoch seconds of the key's failures, any order."""
    recent = sorted(t for t in failures if t > now - window_s)
    if len(recent) < max_failures:
        return None
    return max(1.0, recent[-max_failures] + window_s - now)
