"""Checking a robot handover code before ground control tells the robot to hand the parcel over
(``POST /vehicles/{id}/commands`` with ``handover_confirmed``): a wrong code is refused and
counted; at ``Settings.handover_max_attempts`` wrong codes the handover is locked and the robot
is told to move on (``handover_refused``), so the parcel comes back as a failed delivery."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.db.models import Command, Parcel
from ground_control.db.repositories import Conflict, NotFound
from ground_control.db.server_secrets import server_secret
from ground_control.domain.handover_code import IssuedCode, issue, matches
from ground_control.domain.parcel_lifecycle import ParcelState
from ground_control.settings import Settings

ABOARD = (ParcelState.planned.value, ParcelState.dispatched.value, ParcelState.in_transit.value)


class WrongHandoverCode(PermissionError):
    """The code given is not the parcel's (403); the message says how many tries are left."""


async def handover_secret(settings: Settings, session: AsyncSession) -> bytes:
    """The secret handover codes (and tracking tokens) are derived from: FLEET_HANDOVER_SECRET
    when set (recommended: a database dump then reveals no code), else one generated on first
    use and stored in the database (``server_secrets``), so codes can be shown again after a
    restart and every replica shows the same ones."""
    if settings.handover_secret is not None:
        return settings.handover_secret.get_secret_value().encode()
    return await server_secret(session, "handover")


async def issue_codes(settings: Settings, session: AsyncSession, count: int) -> list[IssuedCode]:
    """``count`` new codes; the scrypt hashing is CPU work, done off the event loop."""
    secret = await handover_secret(settings, session)
    return await asyncio.to_thread(lambda: [issue(secret) for _ in range(count)])


async def check_handover_code(session: AsyncSession, vehicle_id: str, parcel_id: str, code: str | None,
                              max_attempts: int) -> None:
    """Return if ``code`` may release ``parcel_id`` from ``vehicle_id``. Otherwise count the wrong
    attempt (committed), lock at the limit by queueing ``handover_refused`` for the robot, and
    raise :class:`WrongHandoverCode` (403) or :class:`Conflict` (409: not aboard, locked)."""
    p = await session.get(Parcel, parcel_id)
    if p is None:
        raise NotFound(f"parcel {parcel_id!r} not found")
    if p.vehicle_id != vehicle_id or p.state not in ABOARD:
        raise Conflict(f"parcel {parcel_id!r} is not aboard vehicle {vehicle_id!r} (it is {p.state})")
    if p.handover_hash is None or p.handover_salt is None:
        return   # created before handover codes existed: nothing to check against
    if p.handover_attempts >= max_attempts:
        raise Conflict(f"handover of parcel {parcel_id!r} is locked after {p.handover_attempts} wrong codes; "
                       "the robot was told to move on")
    if await asyncio.to_thread(matches, code, p.handover_salt, p.handover_hash):
        return
    p.handover_attempts += 1
    left = max_attempts - p.handover_attempts
    if left == 0:
        session.add(Command(id=uuid.uuid4().hex, vehicle_id=vehicle_id, action="handover_refused",
                            mission_id=p.mission_id, parcel_id=parcel_id))
    await session.commit()
    what = "missing handover code" if not code else "wrong handover code"
    if left == 0:
        raise WrongHandoverCode(f"{what} for parcel {parcel_id!r}; {max_attempts} wrong codes: handover locked, "
                                "the robot is told to move on and the parcel comes back as a failed delivery")
    raise WrongHandoverCode(f"{what} for parcel {parcel_id!r}; {left} attempt(s) left")
