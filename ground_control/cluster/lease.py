"""The lease rules, free of I/O: who may hold a named lease, and with which fencing token.

A lease is a row ``(name, holder, token, expires_at)``. A replica *acquires* a lease that is free
(never held, released, or expired) and gets ``token + 1``; it *renews* its own lease (even one
that expired meanwhile, if nobody else took it) and keeps its token; it *releases* it by letting
it expire now. The token only ever grows, so any write that carries the token it was planned
under can be refused once somebody else acquired the lease (:func:`fence_ok`).

Times are the database's clock, so the replicas' own clocks never need to agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

#: lease names: one per hub (dispatch ownership) and one per live replica (membership)
HUB_PREFIX = "hub:"
MEMBER_PREFIX = "member:"


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str | None     # None: released
    token: int             # fencing token: grows by one on every change of holder
    expires_at: datetime


def hub_lease(hub_id: str) -> str:
    return f"{HUB_PREFIX}{hub_id}"


def member_lease(holder: str) -> str:
    return f"{MEMBER_PREFIX}{holder}"


def is_live(lease: Lease, now: datetime) -> bool:
    """Held by somebody and not expired."""
    return lease.holder is not None and now < lease.expires_at


def claim(current: Lease | None, name: str, me: str, now: datetime, ttl_s: float) -> Lease | None:
    """The lease after ``me`` asks for it (acquire or renew), or ``None`` if another holds it.

    Renewing one's own lease keeps the token, even after it expired, because nobody else can
    have written under a newer token in between (acquiring would have bumped it)."""
    until = now + timedelta(seconds=ttl_s)
    if current is None:
        return Lease(name, me, 1, until)
    if current.holder == me:
        return replace(current, expires_at=until)
    if is_live(current, now):
        return None
    return Lease(name, me, current.token + 1, until)


def release(current: Lease, me: str, now: datetime) -> Lease | None:
    """The lease after ``me`` gives it up (free at once for the others); ``None`` if not ours."""
    if current.holder != me:
        return None
    return replace(current, holder=None, expires_at=min(current.expires_at, now))


def fence_ok(current: Lease | None, me: str, token: int, now: datetime) -> bool:
    """May ``me`` write under ``token`` now? Only while it still holds that very lease."""
    return current is not None and current.holder == me and current.token == token and now < current.expires_at


def fair_share(hubs: int, members: int) -> int:
    """How many hubs one replica should hold at most, with ``members`` replicas alive."""
    return math.ceil(hubs / max(members, 1)) if hubs else 0


def choose(hubs: list[str], mine: set[str], free: set[str], members: int) -> tuple[list[str], list[str]]:
    """(hubs to claim, hubs to give up) for one replica: renew what it holds up to its fair
    share, claim free hubs up to it, and give up the surplus so a newcomer gets some. Sorted,
    so every replica makes the same choices and the outcome converges."""
    share = fair_share(len(hubs), members)
    keep = sorted(h for h in hubs if h in mine)
    surplus = keep[share:]
    keep = keep[:share]
    room = share - len(keep)
    new = [h for h in sorted(hubs) if h in free and h not in mine][:max(room, 0)]
    return keep + new, surplus
