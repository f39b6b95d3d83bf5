"""The broker docker-compose runs: deploy/mosquitto/mosquitto.conf (dynamic security + TLS +
mutual TLS) started by deploy/mosquitto/entrypoint.sh, with certificates from `fleet certs`.
Only host paths and ports are made local; everything else is as shipped."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import aiomqtt
import pytest
from click.testing import CliRunner

import fleet_cli
from fleet_protocol import topics
from ground_control.broker_admin.dynsec import AdminConnection
from ground_control.broker_admin.provisioner import DynsecBrokerAdmin
from ground_control.embedded.broker import free_port, mosquitto_binary, port_open

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
PLUGINS = ("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so", "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
           "/usr/lib/mosquitto_dynamic_security.so")
ADMIN, ADMIN_PW, HEALTH_PW = "fleet-admin", "deploy-admin-pw", "deploy-health-pw"
pytestmark = pytest.mark.timeout(90)


@pytest.fixture()
def deployed():
    plugin = next((p for p in PLUGINS if Path(p).exists()), None)
    if mosquitto_binary() is None or plugin is None or not shutil.which("mosquitto_ctrl") \
            or not shutil.which("mosquitto_sub"):
        pytest.skip("mosquitto with its dynamic security plugin, mosquitto_ctrl and mosquitto_sub are needed")
    root = Path(tempfile.mkdtemp(prefix="lmf-deploy-"))
    root.chmod(0o755)
    certs, data = root / "certs", root / "data"
    out = CliRunner().invoke(fleet_cli.main, ["certs", "init", str(certs), "--host", "127.0.0.1"])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(fleet_cli.main, ["certs", "vehicle", "drone-1", "--dir", str(certs)])
    assert out.exit_code == 0, out.output
    tls_port, mtls_port = free_port(), free_port()
    conf = DEPLOY.joinpath("mosquitto.conf").read_text()
    conf = conf.replace("/usr/lib/mosquitto_dynamic_security.so", plugin).replace("/mosquitto/data", str(data))
    conf = re.sub(r"^listener 8883 0\.0\.0\.0$", f"listener {tls_port} 127.0.0.1", conf, flags=re.M)
    conf = re.sub(r"^listener 8884 0\.0\.0\.0$", f"listener {mtls_port} 127.0.0.1", conf, flags=re.M)
    (root / "mosquitto.conf").write_text(conf + "log_dest none\n")
    env = {**os.environ, "MOSQUITTO_DATA": str(data), "MOSQUITTO_CERTS": str(certs),
           "MOSQUITTO_CONF": str(root / "mosquitto.conf"), "MQTT_TLS_PORT": str(tls_port),
           "MQTT_ADMIN_USER": ADMIN, "MQTT_ADMIN_PASSWORD": ADMIN_PW, "MQTT_HEALTH_PASSWORD": HEALTH_PW}
    proc = subprocess.Popen(["sh", str(DEPLOY / "entrypoint.sh")], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not (port_open("127.0.0.1", tls_port) and port_open("127.0.0.1", mtls_port)):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the shipped broker did not start"
        time.sleep(0.1)
    # Ready as docker-compose sees it (its healthcheck, which ground control waits on): the
    # entrypoint has finished setting up the plugin once the healthcheck account reads uptime.
    # Open ports alone raced the entrypoint's own admin commands on a loaded machine.
    health = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(tls_port), "--cafile", str(certs / "ca.crt"),
              "-u", "healthcheck", "-P", HEALTH_PW, "-t", "$SYS/broker/uptime", "-C", "1", "-W", "3"]
    deadline = time.monotonic() + 60
    while subprocess.run(health, capture_output=True).returncode != 0:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the shipped broker's healthcheck never passed"
        time.sleep(0.2)
    yield certs, tls_port, mtls_port
    proc.send_signal(signal.SIGTERM)          # the entrypoint passes it to mosquitto
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    shutil.rmtree(root, ignore_errors=True)


def ctx(certs: Path, client: str | None = None):
    import ssl
    c = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    if client:
        c.load_cert_chain(str(certs / "clients" / f"{client}.crt"), str(certs / "clients" / f"{client}.key"))
    return c


async def first_message(c: aiomqtt.Client, timeout: float = 20.0) -> tuple[str, bytes]:
    async with asyncio.timeout(timeout):
        async for m in c.messages:
            return str(m.topic), bytes(m.payload)
    raise AssertionError("no message")


async def test_shipped_broker_runs_the_fleet_on_tls_and_certificates(deployed):
    certs, tls_port, mtls_port = deployed
    admin = DynsecBrokerAdmin(AdminConnection(f"mqtts://127.0.0.1:{tls_port}", ADMIN, ADMIN_PW,
                                              ca_file=str(certs / "ca.crt")))
    deadline = time.monotonic() + 30
    while True:   # the entrypoint adds the healthcheck account once the broker answers
        try:
            async with aiomqtt.Client("127.0.0.1", tls_port, username="healthcheck", password=HEALTH_PW,
                                      tls_context=ctx(certs), timeout=10) as hc:
                await hc.subscribe("$SYS/broker/uptime", qos=0)
                assert (await first_message(hc))[0] == "$SYS/broker/uptime"
            break
        except aiomqtt.MqttError:
            assert time.monotonic() < deadline, "no healthcheck account"
            await asyncio.sleep(0.3)

    await admin.ensure_ground_control("ground-control", "gc-pw")
    async with aiomqtt.Client("127.0.0.1", tls_port, username="ground-control", password="gc-pw",
                              tls_context=ctx(certs), timeout=10) as gc:
        await gc.subscribe(topics.all_vehicles("status"), qos=1)
        # the vehicle's agent comes up on its certificate before the vehicle is registered ...
        async with aiomqtt.Client("127.0.0.1", mtls_port, tls_context=ctx(certs, "drone-1"), timeout=10,
                                  identifier="lmf-agent-drone-1") as early:
            await early.subscribe(topics.mission("drone-1"), qos=1)
            await early.publish(topics.status("drone-1"), b"unregistered", qos=1)
            await admin.issue("drone-1")   # ... registration disconnects it, so it comes back allowed
            with pytest.raises(aiomqtt.MqttError):
                await first_message(early)
        async with aiomqtt.Client("127.0.0.1", mtls_port, tls_context=ctx(certs, "drone-1"), timeout=10) as agent:
            await agent.subscribe(topics.mission("drone-1"), qos=1)
            await agent.publish(topics.status("drone-1"), b"online", qos=1)
            assert await first_message(gc) == (topics.status("drone-1"), b"online")
            await gc.publish(topics.mission("drone-1"), b"mission", qos=1)
            assert await first_message(agent) == (topics.mission("drone-1"), b"mission")
        await gc.publish(topics.status("drone-1"), b"", qos=1, retain=True)


async def test_the_ground_control_certificate_is_ground_control(deployed):
    """`fleet certs init` also writes ground control's client certificate: on the mTLS listener
    it hears every vehicle (through a shared subscription) and commands any of them."""
    certs, tls_port, mtls_port = deployed
    admin = DynsecBrokerAdmin(AdminConnection(f"mqtts://127.0.0.1:{tls_port}", ADMIN, ADMIN_PW,
                                              ca_file=str(certs / "ca.crt")))
    await admin.ensure_ground_control("ground-control", "gc-pw")
    await admin.issue("drone-1")
    async with aiomqtt.Client("127.0.0.1", mtls_port, tls_context=ctx(certs, "ground-control"), timeout=10,
                              protocol=aiomqtt.ProtocolVersion.V5) as gc:
        await gc.subscribe(topics.shared("gc", topics.all_vehicles("event")), qos=1)
        async with aiomqtt.Client("127.0.0.1", mtls_port, tls_context=ctx(certs, "drone-1"), timeout=10) as agent:
            await agent.subscribe(topics.command("drone-1"), qos=1)
            await agent.publish(topics.event("drone-1"), b"delivered", qos=1)
            assert await first_message(gc) == (topics.event("drone-1"), b"delivered")
            await gc.publish(topics.command("drone-1"), b"hold", qos=1)
            assert await first_message(agent) == (topics.command("drone-1"), b"hold")
