"""The bytes a receiver gets for an event (pure): the same event always serialises to the same
body, so a replay carries the same signature input apart from the timestamp."""

from __future__ import annotations

import json

from ground_control.db.models import WebhookEvent


def body_of(ev: WebhookEvent) -> bytes:
    doc = {"id": ev.id, "type": ev.type, "created_at": ev.created_at.isoformat(), "parcel_id": ev.parcel_id,
           "data": ev.data}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
