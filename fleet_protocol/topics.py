"""MQTT topic names. One vehicle, one subtree, so a broker ACL can confine a vehicle's
credentials to ``lmf/v1/vehicle/<its id>/#``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ROOT = "lmf/v1"
VEHICLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

Channel = Literal["mission", "command", "event", "telemetry", "status"]
CHANNELS: tuple[Channel, ...] = ("mission", "command", "event", "telemetry", "status")

#: QoS per channel: telemetry is fire-and-forget, everything else must arrive.
QOS: dict[Channel, int] = {"mission": 1, "command": 1, "event": 1, "telemetry": 0, "status": 1}
#: Channels whose last message the broker keeps for late subscribers.
RETAINED: frozenset[Channel] = frozenset({"status"})
#: Who publishes on each channel.
INBOUND_TO_VEHICLE: frozenset[Channel] = frozenset({"mission", "command"})
OUTBOUND_FROM_VEHICLE: frozenset[Channel] = frozenset({"event", "telemetry", "status"})

_TOPIC_RE = re.compile(r"^lmf/v1/vehicle/([^/+#]+)/(mission|command|event|telemetry|status)$")


def vehicle_topic(vehicle_id: str, channel: Channel) -> str:
    """``lmf/v1/vehicle/{id}/{channel}``."""
    return f"{ROOT}/vehicle/{vehicle_id}/{channel}"


def mission(vehicle_id: str) -> str:
    return vehicle_topic(vehicle_id, "mission")


def command(vehicle_id: str) -> str:
    return vehicle_topic(vehicle_id, "command")


def event(vehicle_id: str) -> str:
    return vehicle_topic(vehicle_id, "event")


def telemetry(vehicle_id: str) -> str:
    return vehicle_topic(vehicle_id, "telemetry")


def status(vehicle_id: str) -> str:
    return vehicle_topic(vehicle_id, "status")


def all_vehicles(channel: Channel) -> str:
    """Wildcard subscription for one channel of every vehicle."""
    return f"{ROOT}/vehicle/+/{channel}"


def shared(group: str, topic_filter: str) -> str:
    """MQTT v5 shared subscription, so several ground-control replicas split the load."""
    return f"$share/{group}/{topic_filter}"


@dataclass(frozen=True)
class ParsedTopic:
    vehicle_id: str
    channel: Channel


def parse(topic: str) -> ParsedTopic | None:
    """Split a concrete topic into vehicle id and channel; ``None`` if it is not one of ours."""
    m = _TOPIC_RE.match(topic)
    if not m:
        return None
    return ParsedTopic(vehicle_id=m.group(1), channel=m.group(2))  # type: ignore[arg-type]
