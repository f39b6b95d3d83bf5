"""The broker rules as data: what a vehicle's and ground control's roles grant."""

from __future__ import annotations

from fleet_protocol import topics
from ground_control.broker_admin import acl


def _allowed(acls, kind):
    return {a["topic"] for a in acls if a["acltype"] == kind and a["allow"]}


def test_a_vehicle_role_names_only_its_own_topics_and_denies_the_rest():
    rules = acl.vehicle_acls("drone-1")
    assert _allowed(rules, "publishClientSend") == {topics.event("drone-1"), topics.telemetry("drone-1"),
                                                    topics.status("drone-1")}
    assert _allowed(rules, "subscribeLiteral") == _allowed(rules, "publishClientReceive") == {
        topics.mission("drone-1"), topics.command("drone-1")}
    denies = [a for a in rules if not a["allow"]]
    assert {a["acltype"] for a in denies} == {"publishClientSend", "publishClientReceive", "subscribePattern"}
    assert all(a["topic"] == "#" for a in denies)
    assert min(a["priority"] for a in rules if a["allow"]) > max(a["priority"] for a in denies)
    assert acl.vehicle_role("drone-1") != acl.GROUND_CONTROL_ROLE


def test_ground_control_may_use_shared_subscriptions_over_the_fleet_tree():
    rules = acl.ground_control_acls()
    assert _allowed(rules, "subscribePattern") == {"lmf/v1/#", "$share/+/lmf/v1/#"}
    assert _allowed(rules, "publishClientSend") == _allowed(rules, "publishClientReceive") == {"lmf/v1/#"}
    assert {a["acltype"]: a["allow"] for a in acl.DEFAULT_ACCESS} == {
        "publishClientSend": False, "publishClientReceive": False, "subscribe": False, "unsubscribe": True}
