"""A small async client for Mosquitto's dynamic security plugin: JSON commands published on
``$CONTROL/dynamic-security/v1``, answers read from ``.../response`` and matched by
``correlationData``. One short connection per batch of commands: provisioning is rare, and a
long-lived admin session would be one more thing to keep alive."""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import aiomqtt

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"


class BrokerAdminError(RuntimeError):
    """The broker could not be reached, did not answer in time, or refused a command."""


class CommandFailed(BrokerAdminError):
    def __init__(self, command: str, error: str) -> None:
        super().__init__(f"{command}: {error}")
        self.command = command
        self.error = error


@dataclass(frozen=True)
class AdminConnection:
    """Where and as whom to administer the broker (the dynsec admin account, not ground control's)."""
    url: str
    username: str
    password: str
    ca_file: str | None = None
    tls: bool = False
    timeout_s: float = 10.0

    @property
    def use_tls(self) -> bool:
        return self.tls or urlparse(self.url).scheme == "mqtts"

    def tls_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=self.ca_file) if self.use_tls else None


async def run_commands(conn: AdminConnection, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send ``commands`` in one request and return their responses in the same order. Raises
    :class:`BrokerAdminError` when the broker is unreachable or silent; a refused command is
    returned with its ``error`` (callers decide which errors are harmless, e.g. 'already exists')."""
    tagged = [{**c, "correlationData": secrets.token_hex(8)} for c in commands]
    wanted = {c["correlationData"] for c in tagged}
    answers: dict[str, dict[str, Any]] = {}
    u = urlparse(conn.url)
    try:
        async with asyncio.timeout(conn.timeout_s):
            async with aiomqtt.Client(
                u.hostname or "127.0.0.1", u.port or (8883 if conn.use_tls else 1883),
                username=conn.username, password=conn.password, identifier=f"lmf-dynsec-{secrets.token_hex(4)}",
                clean_session=True, tls_context=conn.tls_context(), timeout=conn.timeout_s,
            ) as client:
                await client.subscribe(RESPONSE_TOPIC, qos=1)
                await client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
                async for message in client.messages:
                    try:
                        body = json.loads(message.payload)
                    except (TypeError, ValueError):
                        continue
                    for r in body.get("responses", []) if isinstance(body, dict) else []:
                        if isinstance(r, dict) and r.get("correlationData") in wanted:
                            answers[r["correlationData"]] = r
                    if len(answers) == len(wanted):
                        break
    except TimeoutError as exc:
        raise BrokerAdminError(f"the broker's dynamic-security plugin did not answer within {conn.timeout_s:g} s "
                               "(plugin not loaded, or the admin account lacks its role?)") from exc
    except aiomqtt.MqttError as exc:
        raise BrokerAdminError(f"cannot reach the broker as {conn.username!r}: {exc}") from exc
    return [answers[c["correlationData"]] for c in tagged]


def raise_unless(responses: list[dict[str, Any]], harmless: tuple[str, ...] = ()) -> None:
    """Raise :class:`CommandFailed` for the first response with an error not in ``harmless``
    (matched as a substring, since the plugin words its errors in prose)."""
    for r in responses:
        err = r.get("error")
        if err and not any(h in err for h in harmless):
            raise CommandFailed(str(r.get("command")), str(err))
