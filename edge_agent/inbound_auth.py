"""Is a mission or command from ground control genuine, current and new? Pure: the caller
supplies the trusted keys, the clock and what the agent's durable state remembers.

Order of the checks, and what each refusal may say about the message:

1. signature (``unsigned``, ``signature``, ``unknown_key``): the message is not ground control's,
   so nothing in it is believed -- the refusal names its ids only in words, never as the
   ``mission_id`` / ``command_id`` of the answer (an attacker must not be able to fail or
   un-acknowledge a real mission or command by sending junk under its id);
2. replay: the nonce (envelope ``id``) was handled before. A byte-identical copy of the
   mission the agent is flying right now, or of a command for it, is a redelivery (QoS 1 after a
   lost acknowledgement) and is ignored as such; any other copy is a ``replay`` and refused,
   again without its ids (ground control already has the first copy's answer);
3. time (``expired``, ``not_yet_valid``): genuine but stale or from the future; answered under
   its ids. Nonces are remembered until ``valid_until`` (plus the skew) has passed, so a copy
   too old to be caught by 2 is caught here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fleet_protocol.signing import check_time, digest, verify_signature


@dataclass(frozen=True)
class Decision:
    """``act``: handle it; ``redelivery``: ignore silently; ``refuse``: answer ``reason``.
    ``trusted_ids``: the message is genuine, so its mission/command id may be named in the answer.
    ``nonce`` (nonce, digest, valid_until epoch) is what to remember once the message is handled."""

    verdict: Literal["act", "redelivery", "refuse"]
    reason: str = ""
    detail: str = ""
    trusted_ids: bool = False
    nonce: tuple[str, str, float] | None = None


def authenticate(raw: Mapping[str, Any], env: Any, trusted: Mapping[str, Ed25519PublicKey], now: datetime, *,
                 skew_s: float, allow_unsigned: bool, seen_digest: str | None, current: bool) -> Decision:
    """``raw`` the JSON object as received, ``env`` its validated envelope; ``seen_digest`` what
    the agent stored under this nonce; ``current``: the message is about the active mission."""
    if raw.get("sig") is None and allow_unsigned:
        return Decision("act", trusted_ids=True)
    v = verify_signature(raw, trusted)
    if not v.ok:
        return Decision("refuse", v.reason, v.detail)
    d = digest(raw)
    if seen_digest is not None:
        if seen_digest == d and current:
            return Decision("redelivery")
        return Decision("refuse", "replay", f"message {env.id} was already handled (signed at {env.ts.isoformat()})")
    t = check_time(env.valid_until, env.ts, now, skew_s=skew_s)
    if not t.ok:
        return Decision("refuse", t.reason, t.detail, trusted_ids=True)
    assert env.valid_until is not None   # check_time refused it otherwise
    return Decision("act", trusted_ids=True, nonce=(str(env.id), d, env.valid_until.timestamp() + skew_s))
