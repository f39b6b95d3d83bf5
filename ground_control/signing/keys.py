"""Ground control's signing key and the signer the dispatcher publishes with."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fleet_keys.keyfile import load_or_create
from fleet_protocol.signing import key_id, public_pem, sign_envelope
from ground_control.settings import Settings

log = logging.getLogger(__name__)


def load_gc_key(settings: Settings) -> Ed25519PrivateKey:
    """The key in ``settings.signing_key_path``, created (0600) on first start; its public half
    written to ``settings.signing_public_key_export`` when that is set."""
    key, created = load_or_create(settings.signing_key_path)
    if created:
        log.warning("created ground control's signing key %s in %s: pin its public key on every agent "
                    "('fleet keys show')", key_id(key), settings.signing_key_path)
    if settings.signing_public_key_export:
        out = Path(settings.signing_public_key_export)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(public_pem(key))
        os.replace(tmp, out)   # an agent starting now reads the old file or the new, never half
    return key


class Signer:
    """Signs outgoing missions and commands: valid for ``ttl_s`` after signing, and never past
    the mission's own ``expires_at``."""

    def __init__(self, key: Ed25519PrivateKey, ttl_s: float) -> None:
        self.key = key
        self.ttl_s = ttl_s
        self.kid = key_id(key)

    def __call__(self, envelope: Any) -> bytes:
        expires: datetime | None = getattr(envelope.body, "expires_at", None)
        return sign_envelope(envelope, self.key, ttl_s=self.ttl_s, valid_until=expires)
