"""What each broker account may do, as Mosquitto dynamic-security roles (pure data, no I/O).

A vehicle's role lets it publish only its own event/telemetry/status topics (its last will is
its status topic) and subscribe to and receive only its own mission/command topics. Everything
else it is denied explicitly, so the broker's default ACL (which lets any client *receive*) does
not matter. Ground control's role covers the whole fleet tree, directly or through shared
subscriptions (``$share/<group>/lmf/v1/...``) for several replicas."""

from __future__ import annotations

from typing import Any

from fleet_protocol import topics

#: the dynsec role every ground-control account holds
GROUND_CONTROL_ROLE = "lmf-ground-control"
FLEET_TREE = f"{topics.ROOT}/#"
#: allow rules outrank the catch-all deny
_ALLOW, _DENY = 10, -10


#: the broker's answer where no role speaks: nothing (Mosquitto's own default lets any client
#: *receive* whatever it managed to subscribe to)
DEFAULT_ACCESS: list[dict[str, Any]] = [
    {"acltype": "publishClientSend", "allow": False},
    {"acltype": "publishClientReceive", "allow": False},
    {"acltype": "subscribe", "allow": False},
    {"acltype": "unsubscribe", "allow": True},
]


def vehicle_role(vehicle_id: str) -> str:
    """The role holding one vehicle's ACL (one role per vehicle: deleting it drops its rights)."""
    return f"lmf-vehicle-{vehicle_id}"


def _acl(acltype: str, topic: str, allow: bool) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "allow": allow, "priority": _ALLOW if allow else _DENY}


def vehicle_acls(vehicle_id: str) -> list[dict[str, Any]]:
    """Own outbound channels to publish, own inbound channels to subscribe/receive, nothing else."""
    out = [_acl("publishClientSend", topics.vehicle_topic(vehicle_id, c), True)
           for c in sorted(topics.OUTBOUND_FROM_VEHICLE)]
    for c in sorted(topics.INBOUND_TO_VEHICLE):
        t = topics.vehicle_topic(vehicle_id, c)
        out += [_acl("subscribeLiteral", t, True), _acl("publishClientReceive", t, True)]
    out += [_acl(kind, "#", False) for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")]
    return out


def ground_control_acls() -> list[dict[str, Any]]:
    """The fleet tree, publish and receive; subscribe plainly or as a shared-subscription member."""
    return [
        _acl("publishClientSend", FLEET_TREE, True),
        _acl("publishClientReceive", FLEET_TREE, True),
        _acl("subscribePattern", FLEET_TREE, True),
        _acl("subscribePattern", f"$share/+/{FLEET_TREE}", True),
        _acl("unsubscribePattern", "#", True),
    ]
