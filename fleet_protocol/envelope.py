"""The envelope every MQTT payload travels in, and strict parsing of raw payloads.

``{v, type, id, vehicle_id, ts, seq, body, valid_until?, sig?}``: ``v`` is the protocol version
(a receiver refuses versions it does not know), ``id`` a UUID unique per message (for events: the
event id used for de-duplication; for signed missions and commands: the nonce a receiver
remembers against replays), ``seq`` a per-sender counter that lets a receiver spot gaps and
reordering. ``valid_until`` and ``sig`` are the signature (see :mod:`fleet_protocol.signing`):
optional in the model, required by a receiver that pins keys.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from fleet_protocol import topics
from fleet_protocol.base import INT64_MAX, UtcTimestamp, WireModel
from fleet_protocol.command import Command
from fleet_protocol.event import Event
from fleet_protocol.mission import Mission, VehicleId
from fleet_protocol.status import Status
from fleet_protocol.telemetry import Telemetry

PROTOCOL_VERSION = 1
MAX_PAYLOAD_BYTES = 1_000_000

MessageType = Literal["mission", "command", "event", "telemetry", "status"]
B = TypeVar("B")


class ProtocolError(ValueError):
    """A payload that is not a valid message for its topic. ``reason`` is meant for logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Signature(WireModel):
    """Ed25519 over the envelope's canonical bytes (:func:`fleet_protocol.signing.canonical_bytes`)."""

    alg: Literal["ed25519"] = "ed25519"
    kid: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")
    value: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")


class Envelope(WireModel, Generic[B]):
    v: Literal[1] = PROTOCOL_VERSION
    type: MessageType
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    vehicle_id: VehicleId
    ts: UtcTimestamp = Field(default_factory=lambda: datetime.now(timezone.utc))
    seq: int = Field(default=0, ge=0, le=INT64_MAX)   # the database column is 64-bit
    body: B
    valid_until: UtcTimestamp | None = None   # signed messages: act on it only until then
    sig: Signature | None = None


BODY_MODELS: dict[str, Any] = {
    "mission": Mission,
    "command": Command,
    "event": Event,
    "telemetry": Telemetry,
    "status": Status,
}

_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(Envelope[model]) for name, model in BODY_MODELS.items()  # type: ignore[valid-type]
}


def make_envelope(
    type_: MessageType, vehicle_id: str, body: BaseModel, *, seq: int = 0, id_: uuid.UUID | None = None
) -> Envelope[Any]:
    """Wrap a body model for sending."""
    return Envelope[Any](
        type=type_, vehicle_id=vehicle_id, body=body, seq=seq, id=id_ or uuid.uuid4()
    )


def encode(envelope: Envelope[Any]) -> bytes:
    """Serialise to the compact JSON that goes on the wire."""
    return envelope.model_dump_json(exclude_none=True).encode()


def _summarise(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(x) for x in e["loc"]) or "<root>"
        parts.append(f"{loc}: {e['msg']}")
    more = err.error_count() - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_message(topic: str, payload: bytes | str, expected: MessageType | None = None) -> Envelope[Any]:
    """Validate ``payload`` as the message ``topic`` carries.

    Raises :class:`ProtocolError` for: a topic outside ``lmf/v1/vehicle/{id}/{channel}`` (unless
    ``expected`` names the type), oversize or non-UTF-8 or non-JSON payloads, an unknown protocol
    version, a ``type`` that does not match the topic, a ``vehicle_id`` that does not match the
    topic, and any body that fails its model.

    A valid payload is validated straight from its bytes (one pass, no intermediate dict: the
    ingest hot path). Anything that pass refuses goes through :func:`_validate_slowly`, which
    decides for good and words the reason; the fast pass only ever accepts what that one accepts.
    """
    parsed = topics.parse(topic)
    kind: str | None = expected or (parsed.channel if parsed else None)
    if kind is None:
        raise ProtocolError(f"topic {topic!r} is not an lmf/v1 vehicle topic")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        env = _ADAPTERS[kind].validate_json(payload)
    except (ValidationError, RecursionError):
        env = None
    if env is None or env.type != kind:
        env = _validate_slowly(kind, payload)
    if parsed is not None and env.vehicle_id != parsed.vehicle_id:
        raise ProtocolError(
            f"envelope vehicle_id {env.vehicle_id!r} does not match topic vehicle {parsed.vehicle_id!r}"
        )
    if kind == "mission" and env.body.vehicle_id != env.vehicle_id:
        raise ProtocolError("mission.vehicle_id does not match the envelope vehicle_id")
    return env


def _validate_slowly(kind: str, payload: bytes | str) -> Envelope[Any]:
    """Step by step, so a refused payload gets the precise reason (and JSON in UTF-16/32 or with
    a byte-order mark, which only ``json.loads`` takes, is still accepted)."""
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"payload is not JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError("payload is nested too deeply") from None
    if not isinstance(raw, dict):
        raise ProtocolError("payload is not a JSON object")
    if raw.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"unsupported protocol version {raw.get('v')!r} (expected {PROTOCOL_VERSION})")
    if raw.get("type") != kind:
        raise ProtocolError(f"message type {raw.get('type')!r} does not belong on the {kind} topic")
    try:
        return _ADAPTERS[kind].validate_python(raw)
    except ValidationError as exc:
        raise ProtocolError(f"invalid {kind}: {_summarise(exc)}") from None
    except RecursionError:
        raise ProtocolError(f"invalid {kind}: nested too deeply") from None


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (draft 2020-12) of the envelope for each message type."""
    return {name: adapter.json_schema() for name, adapter in _ADAPTERS.items()}
