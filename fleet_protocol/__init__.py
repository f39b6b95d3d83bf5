"""The lastmile-fleet wire contract: MQTT topic names and versioned pydantic message models.

Both sides import this package and nothing else of each other, so it is pure (no I/O) and needs
only pydantic. Every MQTT payload is an :class:`~fleet_protocol.envelope.Envelope` whose ``body``
is one of the models below; :func:`parse_message` validates a raw payload against the model its
topic calls for and raises :class:`ProtocolError` with a human-readable reason otherwise.
"""

from fleet_protocol.command import Command, CommandAction
from fleet_protocol.envelope import (
    PROTOCOL_VERSION,
    Envelope,
    MessageType,
    ProtocolError,
    encode,
    make_envelope,
    parse_message,
)
from fleet_protocol.event import (
    AcceptedEvent,
    CommandAckEvent,
    DeliveredEvent,
    DeliveryFailedEvent,
    Event,
    EventKind,
    FailsafeEvent,
    LegReachedEvent,
    ProofOfDelivery,
    RejectedEvent,
    ReturnedEvent,
    StartedEvent,
)
from fleet_protocol.geo import Geofence, LatLon, Polygon
from fleet_protocol.mission import Hub, Mission, Stop, StopAction, VehicleType
from fleet_protocol.status import Status, VehicleState
from fleet_protocol.telemetry import Telemetry
from fleet_protocol import topics

__all__ = [
    "PROTOCOL_VERSION",
    "AcceptedEvent",
    "Command",
    "CommandAckEvent",
    "CommandAction",
    "DeliveredEvent",
    "DeliveryFailedEvent",
    "Envelope",
    "Event",
    "EventKind",
    "FailsafeEvent",
    "Geofence",
    "Hub",
    "LatLon",
    "LegReachedEvent",
    "MessageType",
    "Mission",
    "Polygon",
    "ProofOfDelivery",
    "ProtocolError",
    "RejectedEvent",
    "ReturnedEvent",
    "StartedEvent",
    "Status",
    "Stop",
    "StopAction",
    "Telemetry",
    "VehicleState",
    "VehicleType",
    "encode",
    "make_envelope",
    "parse_message",
    "topics",
]
