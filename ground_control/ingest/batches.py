"""Batched writes where one vehicle's row can never fail another's.

A batch that fails permanently is split in halves and each half retried, down to single rows:
the rows that still fail are returned (to be dead-lettered), every other row is written. A
transient failure (database down) is raised as is: the caller keeps the whole batch for later.
``log2(n)`` extra round trips per bad row; none when nothing is wrong.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Sequence, TypeVar

from ground_control.ingest.failures import Failure, classify

R = TypeVar("R")


async def write_isolating(rows: Sequence[R], write: Callable[[Sequence[R]], Awaitable[None]]) -> list[tuple[R, BaseException]]:
    """Write ``rows`` with ``write`` (one transaction per call); return the rows that fail
    permanently on their own, with their exception."""
    if not rows:
        return []
    try:
        await write(rows)
        return []
    except Exception as exc:  # noqa: BLE001 - classified below
        if classify(exc) is Failure.transient:
            raise
        if len(rows) == 1:
            return [(rows[0], exc)]
    mid = len(rows) // 2
    return await write_isolating(rows[:mid], write) + await write_isolating(rows[mid:], write)
