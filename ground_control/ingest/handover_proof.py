"""A robot's ``delivered`` proof says the recipient confirmed the handover. It counts as a
confirmed handover only if it carries the parcel's handover code: a vehicle claiming
``confirmed: true`` with a wrong or missing code is recorded as an unconfirmed handover, with a
note (the parcel left the robot, so it is not re-planned; an operator looks into it). The code
itself is not kept in the stored proof."""

from __future__ import annotations

import asyncio
from typing import Any

from fleet_protocol import StopAction
from ground_control.db.models import Parcel
from ground_control.domain.handover_code import matches


async def code_verdict(p: Parcel | None, proof: Any) -> bool | None:
    """Whether the proof's code is the parcel's (None: nothing to check, e.g. a drone release or
    a parcel created before handover codes). scrypt runs off the event loop."""
    if p is None or proof.method is not StopAction.handover or p.handover_hash is None or p.handover_salt is None:
        return None
    return await asyncio.to_thread(matches, proof.handover_code, p.handover_salt, p.handover_hash)


def apply_verdict(p: Parcel, event_id: str, verified: bool | None) -> str | None:
    """Rewrite the proof this event stored on ``p``: confirmed only if the code matched, the code
    replaced by whether it matched. Returns a note when the vehicle's claim was not upheld."""
    if verified is None or not p.proof or p.proof.get("event_id") != event_id:
        return None
    claimed = bool(p.proof.get("confirmed"))
    code = p.proof.get("handover_code")
    proof = {k: v for k, v in p.proof.items() if k != "handover_code"}
    p.proof = {**proof, "confirmed": claimed and verified, "handover_code_verified": verified}
    if claimed and not verified:
        return (f"parcel {p.id}: handover claimed confirmed with a {'wrong' if code else 'missing'} handover code: "
                "recorded as an unconfirmed handover")
    return None
