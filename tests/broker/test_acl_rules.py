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


def test_the_admin_connection_follows_the_settings():
    from ground_control.broker_admin.factory import make_broker_admin
    from ground_control.broker_admin.provisioner import NoBrokerAdmin
    from ground_control.settings import Settings

    assert isinstance(make_broker_admin(Settings()), NoBrokerAdmin)
    a = make_broker_admin(Settings(broker_admin="dynsec", broker_admin_password="pw", mqtt_url="mqtts://b:8883",
                                   mqtt_ca_file="/ca.crt", mqtt_cert_file="/gc.crt", mqtt_key_file="/gc.key"))
    assert (a.conn.url, a.conn.username, a.conn.ca_file, a.conn.use_tls) == ("mqtts://b:8883", "fleet-admin", "/ca.crt", True)
    a = make_broker_admin(Settings(broker_admin="dynsec", broker_admin_password="pw", mqtt_tls=True,
                                   broker_admin_url="mqtt://127.0.0.1:1884"))
    assert not a.conn.use_tls   # its own URL decides
