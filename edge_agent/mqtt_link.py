"""The MQTT edge (aiomqtt 2.x): connection with reconnect, persistent session, will, inbound
dispatch, telemetry at QoS 0 and the outbox publisher at QoS 1.

aiomqtt has no automatic reconnect, so :meth:`MqttLink.run` is a ``while`` loop around
``async with Client(...)`` with exponential backoff and jitter. The session is persistent
(``clean_session=False``, stable client id ``lmf-agent-<vehicle id>``, MQTT 3.1.1 so amqtt works
too): a mission published while the vehicle is offline arrives when it reconnects. The last will
is the retained ``offline`` status (QoS 1), built afresh at every connect: its envelope ``ts`` is
when the will was *set* (the broker cannot stamp the moment the link died); a clean stop publishes
a fresh ``offline`` with the stop's time. ``online`` is published retained on every connect.

Events are not published from here directly: the agent writes them to the :class:`Outbox` and
calls :meth:`kick`; the publisher task sends pending rows in order at QoS 1 and deletes a row only
after ``publish`` returned, which in aiomqtt 2.x means paho's ``on_publish`` fired, i.e. the
broker's PUBACK arrived (see ``aiomqtt.Client.publish``: it waits on ``_pending_publishes[mid]``,
set from ``_on_publish``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from dataclasses import dataclass
from typing import Awaitable, Callable, Union

import aiomqtt

from edge_agent.outbox import Outbox
from fleet_protocol import topics
from fleet_protocol.broker_endpoints import BrokerEndpoint, EndpointRotation, parse_broker_urls


@dataclass
class MqttConfig:
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    keepalive: int = 30

    @property
    def endpoints(self) -> list[BrokerEndpoint]:
        """The broker's nodes in the order tried: ``url`` may list a cluster's nodes, comma-separated."""
        return parse_broker_urls(self.url, force_tls=self.tls)

    @property
    def host(self) -> str:
        return self.endpoints[0].host

    @property
    def use_tls(self) -> bool:
        return self.endpoints[0].tls

    @property
    def port(self) -> int:
        return self.endpoints[0].port

    def tls_context(self, node: BrokerEndpoint | None = None) -> ssl.SSLContext | None:
        if not (node.tls if node is not None else self.use_tls):
            return None
        ctx = ssl.create_default_context(cafile=self.ca_cert)
        if self.client_cert:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx


InboundHandler = Callable[[str, bytes], Awaitable[None] | None]
#: a payload, or a function building it when it is handed over (so its envelope ts is "now")
Payload = Union[bytes, Callable[[], bytes]]


class MqttLink:
    def __init__(
        self,
        config: MqttConfig,
        vehicle_id: str,
        *,
        outbox: Outbox,
        on_message: InboundHandler,
        online_payload: bytes,
        offline_payload: Payload,
    ) -> None:
        self.cfg = config
        self.vehicle_id = vehicle_id
        self.outbox = outbox
        self.on_message = on_message
        self.online_payload = online_payload
        self.offline_payload = offline_payload
        self.log = logging.getLogger(f"edge_agent.mqtt.{vehicle_id}")
        self.client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self._kick = asyncio.Event()
        self._stopping = False
        self.published_events = 0
        self.telemetry_sent = 0
        self.connects = 0           # successful connections so far (1 + reconnects)
        # a clustered broker: the node to connect to; moves on when a connection fails or drops
        self.endpoints = EndpointRotation(config.endpoints)
        self.last_error: str | None = None   # why the last connect failed or the link dropped

    def _offline(self) -> bytes:
        p = self.offline_payload
        return p() if callable(p) else p

    def kick(self) -> None:
        self._kick.set()

    async def run(self) -> None:
        backoff = 0.25
        status_topic = topics.status(self.vehicle_id)
        while not self._stopping:
            node = self.endpoints.current
            try:
                async with aiomqtt.Client(
                    node.host, node.port,
                    username=self.cfg.username, password=self.cfg.password,
                    identifier=f"lmf-agent-{self.vehicle_id}", clean_session=False,
                    keepalive=self.cfg.keepalive, timeout=10,
                    # the broker publishes the will as it was set: its ts is this connect's time
                    will=aiomqtt.Will(status_topic, self._offline(), qos=1, retain=True),
                    tls_context=self.cfg.tls_context(node),
                ) as client:
                    self.client = client
                    await client.subscribe([(topics.mission(self.vehicle_id), 1), (topics.command(self.vehicle_id), 1)])
                    await client.publish(status_topic, self.online_payload, qos=1, retain=True)
                    self.connected.set()
                    self.connects += 1
                    backoff = 0.25
                    self.log.info("MQTT connected to %s", node)
                    publisher = asyncio.create_task(self._publish_outbox(client))
                    try:
                        async for message in client.messages:
                            await self._dispatch(str(message.topic), message.payload)
                    finally:
                        publisher.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await publisher
            except aiomqtt.MqttError as exc:
                self.last_error = str(exc)
                if self._stopping:
                    break
                self.log.warning("MQTT connection to %s lost/refused (%s); retrying on %s in ~%.1f s",
                                 node, exc, self.endpoints.failed(), backoff)
            finally:
                self.connected.clear()
                self.client = None
            if self._stopping:
                break
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 10.0)

    async def _dispatch(self, topic: str, payload: object) -> None:
        if isinstance(payload, str):
            payload = payload.encode()
        elif not isinstance(payload, (bytes, bytearray)):
            payload = b"" if payload is None else str(payload).encode()
        try:
            result = self.on_message(topic, bytes(payload))
            if asyncio.iscoroutine(result):
                await result
        except Exception:  # an inbound message must never take the link down
            self.log.exception("handler failed for a message on %s", topic)

    async def _publish_outbox(self, client: aiomqtt.Client) -> None:
        self._kick.set()  # whatever is pending from before the (re)connect goes first
        while True:
            await self._kick.wait()
            self._kick.clear()
            while True:
                batch = self.outbox.pending(50)
                if not batch:
                    break
                try:
                    for row in batch:
                        await client.publish(row.topic, row.payload, qos=1, timeout=15)  # returns after PUBACK
                        self.outbox.ack(row.rowid)
                        self.published_events += 1
                except aiomqtt.MqttError as exc:
                    # no PUBACK in time (or the link is going down): keep the rows, try again
                    # shortly; a dead connection ends the message loop and reconnects anyway
                    self.log.warning("event publish not acknowledged (%s); retrying", exc)
                    await asyncio.sleep(1.0)

    async def publish_telemetry(self, topic: str, payload: bytes) -> bool:
        client = self.client
        if client is None or not self.connected.is_set():
            return False  # QoS 0: while offline the next sample replaces this one
        try:
            await client.publish(topic, payload, qos=0, timeout=5)
            self.telemetry_sent += 1
            return True
        except aiomqtt.MqttError:
            return False

    async def close(self) -> None:
        """Graceful shutdown: publish the offline status (a clean disconnect sends no will)."""
        self._stopping = True
        client = self.client
        if client is not None and self.connected.is_set():
            with contextlib.suppress(Exception):
                await client.publish(topics.status(self.vehicle_id), self._offline(), qos=1, retain=True, timeout=2)
