"""The link takes messages that are already queued without aiomqtt's per-message task (the
ingest hot path), and keeps what the plain iterator guaranteed: every message, in order, a QoS 1
message acknowledged only after its handler returned, and other tasks (the flusher) still run
while a backlog is drained."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiomqtt
import pytest

from fleet_protocol import topics
from ground_control.mqtt import link as link_mod
from ground_control.mqtt.link import MqttLink
from ground_control.mqtt.read_ahead import ReadAhead
from ground_control.settings import Settings


async def _until(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_backlog_is_handled_in_order_acked_after_handling_and_shares_the_loop(mqtt_broker, unique_id):
    if mqtt_broker.kind == "amqtt":
        pytest.skip("manual ack needs paho against a real broker")
    settings = Settings(mqtt_url=mqtt_broker.url, mqtt_client_id=f"gc-drain-{unique_id}")
    tel, ev = topics.telemetry(f"drain-{unique_id}"), topics.event(f"drain-{unique_id}")
    gate = asyncio.Event()
    handled: list[bytes] = []
    acked_after_handling: list[bool] = []
    ticks = {"n": 0, "during_drain": 0}

    holding = asyncio.Event()

    async def handler(m: aiomqtt.Message) -> None:
        if not handled:
            holding.set()
            await gate.wait()          # hold the first message: the rest pile up in the queue
        handled.append(m.payload)
        ticks["during_drain"] = ticks["n"]

    link = MqttLink(settings, handler, [(tel, 0), (ev, 1)], persistent=False)
    real_ack = link._ack

    def ack(client, message) -> None:  # type: ignore[no-untyped-def]
        acked_after_handling.append(bool(handled) and handled[-1] == message.payload)
        real_ack(client, message)
    link._ack = ack  # type: ignore[method-assign]

    async def ticker() -> None:
        while True:
            ticks["n"] += 1
            await asyncio.sleep(0)

    n = 3 * link_mod.DRAIN_BATCH
    tasks = [asyncio.create_task(link.run())]
    try:
        await asyncio.wait_for(link.connected.wait(), 10)
        assert isinstance(link._client._client._sock, ReadAhead)   # paho reads through the buffer
        async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as pub:
            await pub.publish(tel, b"first", qos=0)
            await asyncio.wait_for(holding.wait(), 10)
            for i in range(n):
                await pub.publish(tel, b"t%d" % i, qos=0)
            for i in range(10):
                await pub.publish(ev, b"e%d" % i, qos=1)
            await _until(lambda: len(link._client.messages) >= n)   # a real backlog
            start = ticks["n"]
            tasks.append(asyncio.create_task(ticker()))
            gate.set()
            await _until(lambda: len(handled) == n + 11)
        assert handled == [b"first"] + [b"t%d" % i for i in range(n)] + [b"e%d" % i for i in range(10)]
        assert acked_after_handling and all(acked_after_handling)
        assert link.manual_ack
        # the ticker got turns while the backlog was drained, not only after it
        assert ticks["during_drain"] - start >= 2
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
