"""TLS to a real Mosquitto with a throwaway CA: ground control's link and the agent's link
connect and deliver; both refuse a broker whose certificate does not chain to the configured CA
or does not name the host; with mutual TLS a vehicle needs a certificate, and a certificate for
vehicle A cannot act as B."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest

from broker_harness import TlsFiles, admin_for, start_dynsec_broker
from edge_agent.mqtt_link import MqttConfig, MqttLink as AgentLink
from edge_agent.outbox import Outbox
from fleet_protocol import topics
from ground_control.mqtt.link import MqttLink as GroundLink
from ground_control.settings import Settings
from mqtt_probe import client, collect_until, tls_context, tls_login

pytestmark = pytest.mark.timeout(60)
GC_USER, GC_PASSWORD = "ground-control", "gc-tls-pw"


async def until(pred: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(link):
    task = asyncio.create_task(link.run())
    try:
        yield link
    finally:
        if hasattr(link, "stop"):
            link.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 10)


def ground_link(url: str, ca: Path, heard: list[tuple[str, bytes]], **kw) -> GroundLink:
    settings = Settings(mqtt_url=url, mqtt_ca_file=str(ca), mqtt_username=GC_USER, mqtt_password=GC_PASSWORD,
                        mqtt_client_id=GC_USER, **kw)

    async def handle(m) -> None:
        heard.append((str(m.topic), bytes(m.payload)))
    return GroundLink(settings, handle, [(topics.all_vehicles("status"), 1), (topics.all_vehicles("event"), 1)],
                      persistent=False)


def agent_link(vid: str, cfg: MqttConfig, tmp_path: Path, inbox: list[tuple[str, bytes]]) -> AgentLink:
    return AgentLink(cfg, vid, outbox=Outbox(str(tmp_path / f"{vid}.db")), on_message=lambda t, p: inbox.append((t, p)),
                     online_payload=b"online", offline_payload=b"offline")


async def test_ground_control_and_agent_talk_over_tls(tls_broker, tls_files, tmp_path):
    admin = admin_for(tls_broker, tls_files)
    await admin.ensure_ground_control(GC_USER, GC_PASSWORD)
    vid = f"v-{uuid.uuid4().hex[:6]}"
    cred = await admin.issue(vid)
    url = f"mqtts://localhost:{tls_broker.port}"
    heard: list[tuple[str, bytes]] = []
    inbox: list[tuple[str, bytes]] = []
    gl = ground_link(url, tls_files.ca.cert, heard)
    al = agent_link(vid, MqttConfig(url=url, username=vid, password=cred.password, ca_cert=str(tls_files.ca.cert)),
                    tmp_path, inbox)
    async with running(gl), running(al):
        await until(lambda: (topics.status(vid), b"online") in heard, "the agent's online status at ground control")
        await gl.publish(topics.command(vid), b"hold", qos=1)
        await until(lambda: (topics.command(vid), b"hold") in inbox, "ground control's command at the agent")


async def test_both_refuse_a_broker_signed_by_another_ca(tls_broker, tmp_path):
    other = TlsFiles.make(tmp_path / "other-ca")
    url = f"mqtts://localhost:{tls_broker.port}"
    gl = ground_link(url, other.ca.cert, [])
    al = agent_link("v-untrusting", MqttConfig(url=url, username="x", password="y", ca_cert=str(other.ca.cert)),
                    tmp_path, [])
    async with running(gl), running(al):
        await until(lambda: gl.last_error is not None and al.last_error is not None, "both connect attempts to fail")
    for link in (gl, al):
        assert "certificate verify failed" in link.last_error and not link.connected.is_set()


async def test_both_refuse_a_certificate_for_another_host(tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="lmf-tls-"))
    tls = TlsFiles.make(folder, hostnames=("broker.example",))
    broker = start_dynsec_broker(tls)
    try:
        url = f"mqtts://127.0.0.1:{broker.port}"
        gl = ground_link(url, tls.ca.cert, [])
        al = agent_link("v-pinned", MqttConfig(url=url, username="x", password="y", ca_cert=str(tls.ca.cert)),
                        tmp_path, [])
        async with running(gl), running(al):
            await until(lambda: gl.last_error is not None and al.last_error is not None, "both connect attempts to fail")
        for link in (gl, al):
            assert "mismatch" in link.last_error and not link.connected.is_set()
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def test_mutual_tls_a_certificate_is_an_identity(tls_broker, tls_files, tmp_path):
    admin = admin_for(tls_broker, tls_files)
    await admin.ensure_ground_control(GC_USER, GC_PASSWORD)
    u = uuid.uuid4().hex[:6]
    va, vb = f"va-{u}", f"vb-{u}"
    await admin.issue(va)
    cred_b = await admin.issue(vb)
    ca, port = tls_files.ca.cert, tls_broker.mtls_port
    assert tls_login(port, tls_context(ca)).startswith("refused"), "a vehicle without a certificate got in"
    foreign = TlsFiles.make(tmp_path / "foreign").client(va)
    assert tls_login(port, tls_context(ca, foreign)).startswith("refused"), "a certificate from another CA got in"
    assert tls_login(port, tls_context(ca, tls_files.client(va))) == "connack"

    cert_a = tls_files.client(va)
    async with client(tls_broker.port, GC_USER, GC_PASSWORD, ctx=tls_context(ca)) as gc:
        await gc.subscribe(topics.all_vehicles("event"), qos=1)
        # claiming B's username changes nothing: the certificate's name is the identity
        async with client(port, vb, None, ctx=tls_context(ca, cert_a)) as car:
            await car.subscribe(topics.mission(vb), qos=1)
            await car.publish(topics.event(vb), b"forged", qos=1)
            await gc.publish(topics.mission(vb), b"b's mission", qos=1)
            await car.publish(topics.event(va), b"own", qos=1)
            assert await collect_until(gc, topics.event(va)) == [(topics.event(va), b"own")]
        inbox: list[tuple[str, bytes]] = []
        al = agent_link(va, MqttConfig(url=f"mqtts://localhost:{port}", ca_cert=str(ca), client_cert=str(cert_a.cert),
                                       client_key=str(cert_a.key)), tmp_path, inbox)
        async with running(al):
            await until(al.connected.is_set, "the agent on its certificate")
            await gc.publish(topics.mission(vb), b"b's mission again", qos=1)
            await gc.publish(topics.mission(va), b"a's mission", qos=1)
            await until(lambda: inbox, "a's mission at the agent")
            assert inbox == [(topics.mission(va), b"a's mission")]
            # disabled and enabled again, the agent on its certificate gets its rights back
            await admin.disable(va)
            await admin.enable(va)
            deadline = time.monotonic() + 20
            while len(inbox) < 2:   # missions sent before it has subscribed again are not for it
                assert time.monotonic() < deadline, "no mission reached the re-enabled agent"
                await gc.publish(topics.mission(va), b"again", qos=1)
                await asyncio.sleep(0.2)
            assert set(inbox[1:]) == {(topics.mission(va), b"again")}

        await admin.disable(va)   # revocation holds for certificate logins too
        async with client(port, None, None, ctx=tls_context(ca, cert_a)) as car:
            await car.publish(topics.event(va), b"after revocation", qos=1)
        async with client(tls_broker.port, vb, cred_b.password, ctx=tls_context(ca)) as other:
            await other.publish(topics.event(vb), b"marker", qos=1)
        assert await collect_until(gc, topics.event(vb)) == [(topics.event(vb), b"marker")]
