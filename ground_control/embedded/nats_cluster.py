"""A clustered MQTT broker on one machine, for tests and the broker-failover benchmark: three
``nats-server`` nodes (Debian's ``nats-server``) joined in one cluster, each with JetStream and
its MQTT listener.

Why NATS: its MQTT sessions, QoS 1 queues and retained messages live in JetStream streams
replicated across the cluster, so a client whose node dies reconnects to another node and finds
its session, its queued messages and the retained statuses there. (RabbitMQ 3.10's MQTT plugin
keeps retained messages per node, and Mosquitto has no clustering.) What NATS lacks is listed in
docs/operations.md: MQTT 3.1.1 only, no shared subscriptions, no QoS 2.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho

from ground_control.embedded.broker import free_port, port_open


def nats_binary() -> str | None:
    if path := shutil.which("nats-server"):
        return path
    return "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None


@dataclass
class NatsNode:
    name: str
    mqtt_port: int
    client_port: int
    route_port: int
    monitor_port: int
    config: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class NatsCluster:
    """Three (or ``size``) nodes; :meth:`kill` one with SIGKILL, :meth:`start` it again."""

    workdir: Path
    nodes: list[NatsNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Every node's MQTT URL, comma-separated: what clients are configured with."""
        return ",".join(n.url for n in self.nodes)

    def urls_starting_at(self, index: int) -> str:
        """The same nodes, starting with ``index``: to put clients on a chosen node first."""
        order = self.nodes[index:] + self.nodes[:index]
        return ",".join(n.url for n in order)

    def start(self, node: NatsNode) -> None:
        binary = nats_binary()
        assert binary is not None
        log = open(self.workdir / f"{node.name}.log", "ab")  # noqa: SIM115 - owned by the process
        node.proc = subprocess.Popen([binary, "-c", str(node.config)], stdout=log, stderr=subprocess.STDOUT)

    def kill(self, node: NatsNode) -> None:
        if node.alive:
            assert node.proc is not None
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait(10)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until every live node is healthy *and* has answered a real MQTT CONNECT.

        An open MQTT port is not enough: NATS answers the first MQTT client of an account only
        after JetStream has a meta leader and has created the replicated session and message
        streams. On a loaded machine that took longer than a client's connect timeout, so clients
        gave up on the first node and moved on (and the failover scenario killed a node nobody was
        on). Probing here makes every node ready before any client is started."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while node.alive and not (port_open("127.0.0.1", node.mqtt_port) and _healthy(node)):
                self._check_deadline(deadline, node, "did not report healthy")
                time.sleep(0.1)
        for node in self.nodes:
            while node.alive and not _mqtt_connects(node, min(30.0, max(deadline - time.monotonic(), 1.0))):
                self._check_deadline(deadline, node, "did not answer an MQTT CONNECT")
                time.sleep(0.2)

    def _check_deadline(self, deadline: float, node: NatsNode, what: str) -> None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"NATS node {node.name} {what}; see {self.workdir / (node.name + '.log')}")

    def stop(self) -> None:
        for node in self.nodes:
            if node.alive:
                assert node.proc is not None
                node.proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.proc.wait(5)
                self.kill(node)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_nats_cluster(size: int = 3) -> NatsCluster:
    """Start ``size`` clustered nodes on free ports in a temporary folder and wait until each
    serves MQTT. ``FileNotFoundError`` without the binary."""
    if nats_binary() is None:
        raise FileNotFoundError("nats-server")
    workdir = Path(tempfile.mkdtemp(prefix="lmf-nats-"))
    cluster = NatsCluster(workdir)
    ports = [(free_port(), free_port(), free_port(), free_port()) for _ in range(size)]
    routes = ", ".join(f"nats-route://127.0.0.1:{route}" for _, _, route, _ in ports)
    for i, (mqtt, client, route, monitor) in enumerate(ports, start=1):
        name = f"n{i}"
        store = workdir / f"js-{name}"
        store.mkdir()
        conf = workdir / f"{name}.conf"
        conf.write_text(
            f"server_name: {name}\nlisten: 127.0.0.1:{client}\nhttp: 127.0.0.1:{monitor}\n"
            f'jetstream {{ store_dir: "{store}" }}\n'
            f"cluster {{ name: lmf, listen: 127.0.0.1:{route}, routes: [{routes}] }}\n"
            # ack_wait: how long an unacknowledged QoS 1 message waits before redelivery
            f"mqtt {{ listen: 127.0.0.1:{mqtt}, ack_wait: \"10s\", max_ack_pending: 10000 }}\n"
        )
        cluster.nodes.append(NatsNode(name, mqtt, client, route, monitor, conf))
    for node in cluster.nodes:
        cluster.start(node)
    try:
        cluster.wait_ready()
    except Exception:
        cluster.stop()
        raise
    return cluster


def _healthy(node: NatsNode) -> bool:
    """The node's monitoring endpoint says it (and its JetStream) is ready."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.monitor_port}/healthz", timeout=2) as answer:
            return json.load(answer).get("status") == "ok"
    except (OSError, ValueError):
        return False


def _mqtt_connects(node: NatsNode, timeout: float) -> bool:
    """One clean MQTT 3.1.1 session: CONNECT, wait for a successful CONNACK, DISCONNECT."""
    accepted = threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"lmf-probe-{uuid.uuid4().hex[:8]}",
                         clean_session=True)
    client.on_connect = lambda _c, _u, _f, reason, _p: accepted.set() if not reason.is_failure else None
    try:
        client.connect("127.0.0.1", node.mqtt_port, keepalive=60)
    except OSError:
        return False
    client.loop_start()
    try:
        return accepted.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
