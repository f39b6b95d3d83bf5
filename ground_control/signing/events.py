"""Which vehicle events ground control believes. Pure: the caller looks up the vehicle's key.

* a vehicle with a registered public key: every event must carry a valid signature by that key;
* a vehicle without one: its events are taken unsigned (logged as such), unless
  ``require_signed`` (FLEET_REQUIRE_SIGNED_EVENTS) refuses them too.

Refused events are set aside as dead letters with the reason; nothing about them is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from fleet_protocol.signing import KeyFormatError, load_public, trust_set, verify_signature


@dataclass(frozen=True)
class EventAuth:
    """``ok``; if signed and verified: the signed bytes, the signature and the key id, which a
    proof of delivery keeps. ``reason`` says why an event is refused."""

    ok: bool
    reason: str = ""
    signed: bytes | None = None
    signature: str | None = None
    kid: str | None = None
    public_key: str | None = None


def check_event(raw: Mapping[str, Any], vehicle_public_key: str | None, *, require_signed: bool) -> EventAuth:
    if vehicle_public_key is None:
        if require_signed:
            return EventAuth(False, "unsigned: the vehicle has no registered public key and signed events are required")
        return EventAuth(True)
    try:
        trusted = trust_set([load_public(vehicle_public_key)])
    except KeyFormatError as exc:
        return EventAuth(False, f"the vehicle's registered public key is unusable: {exc}")
    v = verify_signature(raw, trusted)
    if not v.ok:
        return EventAuth(False, f"{v.reason}: {v.detail}")
    return EventAuth(True, signed=v.signed, signature=v.signature, kid=v.kid, public_key=vehicle_public_key)
