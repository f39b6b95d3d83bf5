"""Per-vehicle credentials on a real Mosquitto with the dynamic security plugin: a vehicle
speaks only as itself and hears only its own missions and commands; ground control hears and
commands everyone (also through shared subscriptions); revoked credentials stop working."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiomqtt
import paho.mqtt.client as mqtt
import pytest

from broker_harness import ADMIN_USER, admin_for
from ground_control.broker_admin.provisioner import NotAVehicleAccount
from fleet_protocol import topics
from mqtt_probe import client, collect_until, refused

pytestmark = pytest.mark.timeout(60)
GC_USER, GC_PASSWORD = "ground-control", "gc-test-pw"


def ids() -> tuple[str, str]:
    u = uuid.uuid4().hex[:6]
    return f"va-{u}", f"vb-{u}"


async def test_a_vehicle_cannot_publish_as_another(dynsec_broker):
    admin = admin_for(dynsec_broker)
    va, vb = ids()
    a, _ = await admin.issue(va), await admin.issue(vb)
    await admin.ensure_ground_control(GC_USER, GC_PASSWORD)
    port = dynsec_broker.port
    async with client(port, GC_USER, GC_PASSWORD) as gc:
        for channel in topics.OUTBOUND_FROM_VEHICLE:
            await gc.subscribe(topics.all_vehicles(channel), qos=1)
        async with client(port, a.username, a.password) as car:
            for channel in ("event", "telemetry", "status"):
                await car.publish(topics.vehicle_topic(vb, channel), b"forged", qos=1)
            await car.publish("lmf/v1/fleet/broadcast", b"outside its subtree", qos=1)
            await car.publish(topics.status(va), b"own status", qos=1)
            await car.publish(topics.event(va), b"own event", qos=1)
        got = await collect_until(gc, topics.event(va))
    assert got == [(topics.status(va), b"own status"), (topics.event(va), b"own event")]


async def test_a_vehicle_cannot_read_another_vehicles_missions(dynsec_broker):
    admin = admin_for(dynsec_broker)
    va, vb = ids()
    a, _ = await admin.issue(va), await admin.issue(vb)
    await admin.ensure_ground_control(GC_USER, GC_PASSWORD)
    port = dynsec_broker.port
    async with client(port, a.username, a.password) as car:
        for t in (topics.mission(vb), topics.command(vb), "lmf/v1/#", topics.all_vehicles("mission"),
                  topics.mission(va)):
            await car.subscribe(t, qos=1)
        async with client(port, GC_USER, GC_PASSWORD) as gc:
            await gc.publish(topics.mission(vb), b"b's mission", qos=1)
            await gc.publish(topics.command(vb), b"b's command", qos=1)
            await gc.publish(topics.event(vb), b"b's event", qos=1)
            await gc.publish(topics.mission(va), b"a's mission", qos=1)
        got = await collect_until(car, topics.mission(va))
    assert got == [(topics.mission(va), b"a's mission")]


async def test_ground_control_hears_every_vehicle_through_a_shared_subscription(dynsec_broker):
    admin = admin_for(dynsec_broker)
    va, vb = ids()
    a, b = await admin.issue(va), await admin.issue(vb)
    await admin.ensure_ground_control(GC_USER, GC_PASSWORD)
    port = dynsec_broker.port
    async with client(port, GC_USER, GC_PASSWORD, v5=True) as gc:
        await gc.subscribe(topics.shared("gc", topics.all_vehicles("event")), qos=1)
        for cred in (a, b):
            async with client(port, cred.username, cred.password) as car:
                await car.publish(topics.event(cred.username), cred.username.encode(), qos=1)
        got = await collect_until(gc, topics.event(vb))
    assert got == [(topics.event(va), va.encode()), (topics.event(vb), vb.encode())]


async def test_disabled_deleted_and_rotated_credentials_stop_working(dynsec_broker):
    admin = admin_for(dynsec_broker)
    va, _ = ids()
    port = dynsec_broker.port
    a = await admin.issue(va)
    assert not await refused(port, va, a.password)
    assert await refused(port, va, "a guess")
    await admin.disable(va)
    assert await refused(port, va, a.password)
    await admin.enable(va)
    assert not await refused(port, va, a.password)
    rotated = await admin.issue(va)
    assert rotated.password != a.password
    assert await refused(port, va, a.password)
    assert not await refused(port, va, rotated.password)
    await admin.delete(va)
    assert await refused(port, va, rotated.password)
    await admin.delete(va)   # idempotent: a repeated revocation is not an error


async def test_a_connected_vehicle_is_cut_off_when_disabled(dynsec_broker):
    admin = admin_for(dynsec_broker)
    va, _ = ids()
    a = await admin.issue(va)
    async with client(dynsec_broker.port, va, a.password) as car:
        await car.subscribe(topics.mission(va), qos=1)
        await admin.disable(va)
        with pytest.raises(aiomqtt.MqttError):
            await collect_until(car, topics.mission(va), timeout=15)


async def test_a_rotated_password_cuts_off_the_session_that_used_the_old_one(dynsec_broker):
    admin = admin_for(dynsec_broker)
    va, _ = ids()
    a = await admin.issue(va)
    async with client(dynsec_broker.port, va, a.password) as car:
        await car.subscribe(topics.mission(va), qos=1)
        await admin.issue(va)
        with pytest.raises(aiomqtt.MqttError):
            await collect_until(car, topics.mission(va), timeout=15)


def _die_with_will(port: int, username: str, password: str, will_topic: str) -> None:
    """Log in with a last will on ``will_topic``, then drop the connection without DISCONNECT
    (as a crashed agent does), so the broker publishes the will if the ACL lets it."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"will-{username}")
    c.username_pw_set(username, password)
    c.will_set(will_topic, b"offline", qos=1, retain=False)
    c.connect("127.0.0.1", port)
    deadline = time.monotonic() + 10
    while not c.is_connected():
        assert time.monotonic() < deadline, "no CONNACK"
        c.loop(0.1)
    c.socket().close()


async def test_a_vehicles_last_will_cannot_speak_for_another(dynsec_broker):
    admin = admin_for(dynsec_broker)
    va, vb = ids()
    a = await admin.issue(va)
    await admin.issue(vb)
    await admin.ensure_ground_control(GC_USER, GC_PASSWORD)
    async with client(dynsec_broker.port, GC_USER, GC_PASSWORD) as gc:
        await gc.subscribe(topics.all_vehicles("status"), qos=1)
        await asyncio.to_thread(_die_with_will, dynsec_broker.port, va, a.password, topics.status(vb))
        await asyncio.to_thread(_die_with_will, dynsec_broker.port, va, a.password, topics.status(va))
        assert await collect_until(gc, topics.status(va)) == [(topics.status(va), b"offline")]


async def test_a_vehicle_named_like_another_account_cannot_touch_it(dynsec_broker):
    """Registering a vehicle called ``ground-control`` (or the admin's name) must not rotate,
    disable or delete that account."""
    admin = admin_for(dynsec_broker)
    await admin.ensure_ground_control(GC_USER, GC_PASSWORD)
    for name in (GC_USER, ADMIN_USER):
        with pytest.raises(NotAVehicleAccount):
            await admin.issue(name)
        await admin.disable(name)
        await admin.delete(name)
        await admin.enable(name)
    assert not await refused(dynsec_broker.port, GC_USER, GC_PASSWORD)
    va, _ = ids()
    await admin.issue(va)   # the admin still works
