"""One MQTT connection for the ground control, with the reconnect loop aiomqtt 2.5 lacks.

Inbound QoS 1 messages are acknowledged only after the handler returned, i.e. after the DB
commit or after the message was set aside as a dead letter (paho's manual ack, reached through
aiomqtt's paho client). The handler is expected to deal with every failure itself (ingest
retries transient ones and dead-letters the rest); should it raise anyway, the same message is
handed to it again after a backoff, *on the same connection*: dropping the connection would only
make the broker redeliver it and flap the link for every vehicle. Until it is acked the message
stays in our persistent session (``clean_session=False``, stable client id), so a restart
meanwhile loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, AsyncIterator, Awaitable, Callable

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet_protocol.broker_endpoints import EndpointRotation
from ground_control.mqtt.read_ahead import ReadAhead
from ground_control.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[aiomqtt.Message], Awaitable[None]]


#: messages taken from the queue in a row before letting the loop run the reader and the flusher
DRAIN_BATCH = 500


async def incoming(client: aiomqtt.Client) -> AsyncIterator[aiomqtt.Message]:
    """``client.messages``, without its per-message cost when messages are already waiting.

    aiomqtt's iterator starts a task and an ``asyncio.wait`` for every message, even with
    thousands queued: at telemetry rates that costs more than handling the message. Here what
    is queued is taken directly (in order, while the connection is up), the loop gets a turn
    every :data:`DRAIN_BATCH` messages (more than the reader adds in one turn, see
    :mod:`.read_ahead`, so the queue cannot grow without bound), and the iterator only waits
    when the queue is empty (and raises, as before, once the connection is lost)."""
    queue = getattr(client, "_queue", None)              # aiomqtt 2.x's incoming queue
    disconnected = getattr(client, "_disconnected", None)
    if not isinstance(queue, asyncio.Queue) or not isinstance(disconnected, asyncio.Future):
        async for message in client.messages:        # another aiomqtt: its own way
            yield message
        return
    waiting = client.messages.__aiter__()
    while True:
        yield await waiting.__anext__()
        taken = 0
        while not queue.empty() and not disconnected.done():
            if taken == DRAIN_BATCH:
                await asyncio.sleep(0)
                taken = 0
                continue
            taken += 1
            yield queue.get_nowait()


class NotConnected(RuntimeError):
    """Publishing while the broker is unreachable; callers retry later (outbox / resend)."""


class MqttLink:
    def __init__(self, settings: Settings, handler: Handler, subscriptions: list[tuple[str, int]],
                 client_id: str | None = None, persistent: bool = True,
                 on_connect: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.handler = handler
        self.subscriptions = subscriptions
        self.client_id = client_id or settings.mqtt_client_id
        self.persistent = persistent
        self.on_connect = on_connect
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self.manual_ack = False
        self.connects = 0           # successful connections so far (1 + reconnects)
        self.handler_failures = 0
        # a clustered broker: the node to connect to; moves on when a connection fails or drops
        self.endpoints = EndpointRotation(settings.mqtt_endpoints)
        self.last_error: str | None = None   # why the last connect failed or the link dropped

    def _make_client(self) -> aiomqtt.Client:
        s = self.settings
        kw: dict = {}
        if s.mqtt_protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 7 * 24 * 3600 if self.persistent else 0
            kw.update(protocol=aiomqtt.ProtocolVersion.V5, clean_start=not self.persistent, properties=props)
        else:
            kw.update(protocol=aiomqtt.ProtocolVersion.V311, clean_session=not self.persistent)
        node = self.endpoints.current
        if node.tls:
            ctx = ssl.create_default_context(cafile=s.mqtt_ca_file)
            if s.mqtt_cert_file:
                ctx.load_cert_chain(s.mqtt_cert_file, s.mqtt_key_file)
            kw["tls_context"] = ctx
        client = aiomqtt.Client(
            hostname=node.host, port=node.port, identifier=self.client_id,
            username=s.mqtt_username, password=s.mqtt_password.get_secret_value() if s.mqtt_password else None,
            keepalive=s.mqtt_keepalive_s, max_inflight_messages=100, **kw,
        )
        paho = getattr(client, "_client", None)
        if paho is not None and hasattr(paho, "manual_ack_set"):
            paho.manual_ack_set(True)
            self.manual_ack = True
        if paho is not None and paho.on_socket_open is not None:
            read_from = paho.on_socket_open   # aiomqtt's: registers the socket with the loop
            loop = asyncio.get_running_loop()

            def on_socket_open(c: Any, userdata: Any, sock: Any) -> None:
                c._sock = ReadAhead(sock, loop)  # noqa: SLF001 - paho reads through it from now on
                read_from(c, userdata, c._sock)  # noqa: SLF001
            paho.on_socket_open = on_socket_open
        return client

    def _ack(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        if self.manual_ack and message.qos > 0:
            client._client.ack(message.mid, message.qos)  # noqa: SLF001

    async def run(self) -> None:
        """Connect, subscribe, hand every message to the handler; reconnect with backoff forever."""
        backoff = 0.5
        while True:
            try:
                client = self._make_client()
                async with client:
                    self._client = client
                    for topic, qos in self.subscriptions:
                        await client.subscribe(topic, qos=qos)
                    self.connected.set()
                    self.connects += 1
                    if self.on_connect is not None:
                        self.on_connect()
                    backoff = 0.5
                    log.info("MQTT connected to %s as %s", self.endpoints.current, self.client_id)
                    async for message in incoming(client):
                        await self._handle_until_done(message)
                        self._ack(client, message)
            except asyncio.CancelledError:
                raise
            except aiomqtt.MqttError as exc:
                self.last_error = str(exc)
                log.warning("MQTT connection to %s lost (%s); reconnecting to %s in %.1fs",
                            self.endpoints.current, exc, self.endpoints.failed(), backoff)
            except Exception:  # noqa: BLE001 - the link must not die
                log.exception("MQTT link failed; reconnecting to %s", self.endpoints.failed())
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _handle_until_done(self, message: aiomqtt.Message) -> None:
        """Hand ``message`` to the handler until it returns; retry in place (no ack) if it raises."""
        delay = 0.1
        while True:
            try:
                await self.handler(message)
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a handler failure must not kill ingest
                self.handler_failures += 1
                log.exception("handling a message on %s failed; retrying it in %.1fs", message.topic, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, timeout: float = 10.0) -> None:
        client = self._client
        if client is None:
            raise NotConnected("MQTT not connected")
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=timeout)
        except aiomqtt.MqttError as exc:
            raise NotConnected(str(exc)) from exc
