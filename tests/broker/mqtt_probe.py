"""Small aiomqtt helpers for broker tests: log in as someone, collect what arrives, check that
something does NOT arrive by sending a marker after it on the same path."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import aiomqtt


def tls_context(ca: Any = None, cert: Any = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    return ctx


def client(port: int, username: str | None = None, password: str | None = None, *,
           ctx: ssl.SSLContext | None = None, v5: bool = False, identifier: str | None = None) -> aiomqtt.Client:
    kw: dict[str, Any] = {"protocol": aiomqtt.ProtocolVersion.V5} if v5 else {}
    return aiomqtt.Client("127.0.0.1", port, username=username, password=password, tls_context=ctx,
                          identifier=identifier, timeout=10, **kw)


async def collect_until(c: aiomqtt.Client, marker_topic: str, timeout: float = 15.0) -> list[tuple[str, bytes]]:
    """Everything ``c`` receives up to and including a message on ``marker_topic``. QoS 1 from
    one publisher arrives in order, so what was not there before the marker never will be."""
    got: list[tuple[str, bytes]] = []
    async with asyncio.timeout(timeout):
        async for m in c.messages:
            got.append((str(m.topic), bytes(m.payload)))
            if str(m.topic) == marker_topic:
                return got
    return got


async def refused(port: int, username: str | None, password: str | None, ctx: ssl.SSLContext | None = None) -> bool:
    """True if the broker (or the TLS handshake) refuses this login."""
    try:
        async with client(port, username, password, ctx=ctx):
            return False
    except aiomqtt.MqttError:
        return True


#: an MQTT 3.1.1 CONNECT with client id "probe" and no credentials
_CONNECT = b"\x10\x11\x00\x04MQTT\x04\x02\x00\x3c\x00\x05probe"


def tls_login(port: int, ctx: ssl.SSLContext) -> str:
    """``refused: <TLS alert>`` when the broker refuses this TLS client (a missing or foreign
    client certificate), else ``connack`` once it answers an MQTT CONNECT. Reads the refusal
    itself, so a refusal costs no timeout."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(_CONNECT)
                data = s.recv(4)
    except (ssl.SSLError, ConnectionError) as exc:
        return f"refused: {getattr(exc, 'reason', None) or exc}"
    return "connack" if data[:1] == b"\x20" else f"answered {data!r}"
