"""Retry delays (pure): exponential from ``base_s``, capped, with full jitter so many failing
deliveries do not retry in lockstep against a receiver that just came back."""

from __future__ import annotations

import random


def retry_delay(attempts: int, base_s: float, cap_s: float, rand: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 = the first): a uniform
    draw in [ceiling/2, ceiling] where ceiling = min(cap, base x 2^(attempts-1))."""
    ceiling = min(cap_s, base_s * (2 ** max(0, min(attempts - 1, 30))))
    r = (rand or random).random()
    return ceiling / 2 + r * ceiling / 2
