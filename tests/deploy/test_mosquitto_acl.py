"""The shipped broker ACL (deploy/mosquitto/acl) run by a real mosquitto: a vehicle can speak only
in its own subtree, ground control hears every vehicle."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from ground_control.embedded.broker import free_port, launch_mosquitto, mosquitto_binary

# the static password-file + ACL variant (deploy/mosquitto/static); the dynsec + TLS one that
# docker-compose runs is tested in tests/deploy/test_mosquitto_dynsec.py
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "static"
USERS = {"ground-control": "gc-pw", "drone-1": "d1-pw", "drone-2": "d2-pw", "robot-1": "r1-pw",
         "healthcheck": "hc-pw"}
#: directives of the shipped config that name host paths or the listener: replaced per test
LOCAL = ("listener", "password_file", "acl_file", "persistence_location", "log_dest")


def _password_folder() -> tuple[Path, Path]:
    if mosquitto_binary() is None or not shutil.which("mosquitto_passwd"):
        pytest.skip("mosquitto and mosquitto_passwd are needed")
    # Not pytest's tmp_path: its parents are private, and mosquitto started as root reads its
    # files after dropping to the mosquitto user.
    folder = Path(tempfile.mkdtemp(prefix="lmf-acl-"))
    folder.chmod(0o777)
    passwd = folder / "passwd"
    passwd.touch()
    for user, pw in USERS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, pw], check=True, capture_output=True)
    passwd.chmod(0o644)
    return folder, passwd


@pytest.fixture()
def deployed_broker():
    """deploy/mosquitto/mosquitto.conf as shipped (auth, ACL, client-id rule, persistence), with
    only its listener and file locations made local."""
    folder, passwd = _password_folder()
    port = free_port()
    shipped = [line for line in (DEPLOY / "mosquitto.conf").read_text().splitlines()
               if line.strip() and not line.startswith("#") and line.split()[0] not in LOCAL]
    broker = launch_mosquitto("\n".join([
        f"listener {port} 127.0.0.1", *shipped, f"password_file {passwd}", f"acl_file {DEPLOY / 'acl'}",
        f"persistence_location {folder}/", "log_dest none", ""]), port, cleanup=folder)
    yield port
    broker.stop()


@pytest.fixture()
def acl_broker():
    folder, passwd = _password_folder()
    port = free_port()
    broker = launch_mosquitto(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
        f"acl_file {DEPLOY / 'acl'}\nlog_dest none\n", port, cleanup=folder)
    yield port
    broker.stop()


class Recorder:
    def __init__(self, port: int, user: str, topics: list[str]) -> None:
        self.messages: list[str] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"rec-{user}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, USERS[user])
        self.client.on_message = lambda c, u, m: self.messages.append(m.topic)
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def publish(port: int, user: str, topic: str) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{user}", protocol=mqtt.MQTTv5)
    client.username_pw_set(user, USERS[user])
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, b"{}", qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def test_vehicle_is_confined_to_its_own_subtree(acl_broker):
    port = acl_broker
    gc = Recorder(port, "ground-control", ["lmf/v1/vehicle/+/event"])
    snoop = Recorder(port, "drone-1", ["lmf/v1/vehicle/robot-1/command", "lmf/v1/vehicle/drone-1/command"])
    try:
        publish(port, "drone-1", "lmf/v1/vehicle/drone-1/event")      # allowed
        publish(port, "drone-1", "lmf/v1/vehicle/robot-1/event")      # impersonation: dropped
        publish(port, "ground-control", "lmf/v1/vehicle/robot-1/command")  # not drone-1's to read
        publish(port, "ground-control", "lmf/v1/vehicle/drone-1/command")  # drone-1's own
        time.sleep(0.5)
        assert gc.messages == ["lmf/v1/vehicle/drone-1/event"]
        assert snoop.messages == ["lmf/v1/vehicle/drone-1/command"]
    finally:
        gc.close()
        snoop.close()


def test_wrong_password_is_refused(acl_broker):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="intruder", protocol=mqtt.MQTTv5)
    client.username_pw_set("drone-1", "wrong")
    result: list[object] = []
    done = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: (result.append(rc), done.set())
    client.connect("127.0.0.1", acl_broker)
    client.loop_start()
    assert done.wait(5)
    client.loop_stop()
    assert result[0].is_failure


class Session:
    """A persistent (clean_session=False) MQTT 3.1.1 client, as ground control and the agents
    connect, that records what it receives and how often the broker dropped it."""

    def __init__(self, port: int, user: str, client_id: str, topics: list[str] = (), clean: bool = False) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.disconnects = 0
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean,
                                  protocol=mqtt.MQTTv311)
        self.client.username_pw_set(user, USERS[user])
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.topics = list(topics)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.connected.wait(10), f"{user} as {client_id} did not connect"
        if self.topics:
            assert self.subscribed.wait(10)

    def _on_connect(self, client, userdata, flags, rc, props=None) -> None:
        if not rc.is_failure:
            if self.topics:
                client.subscribe([(t, 1) for t in self.topics])
            self.connected.set()

    def _on_disconnect(self, client, userdata, flags, rc, props=None) -> None:
        if self.connected.is_set():
            self.disconnects += 1

    def _on_message(self, client, userdata, msg) -> None:
        self.messages.append((msg.topic, msg.payload))

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.connected.clear()   # our own disconnect is not counted
        self.client.disconnect()
        self.client.loop_stop()


def test_a_vehicle_cannot_take_over_another_clients_id(deployed_broker):
    """drone-1's credentials with client id ``drone-2`` or ``ground-control`` (the issue's
    takeover): neither is disconnected, drone-2's queued command is not handed to the intruder,
    and both sessions carry on."""
    port = deployed_broker
    gc = Session(port, "ground-control", "ground-control", ["lmf/v1/vehicle/+/event"])
    d2 = Session(port, "drone-2", "drone-2", ["lmf/v1/vehicle/drone-2/command"])
    d2.close()                                            # offline: its session keeps a queue
    gc.publish("lmf/v1/vehicle/drone-2/command", b"queued-for-drone-2")
    stolen: list[tuple[str, bytes]] = []
    try:
        # resume drone-2's session; then kick (and, clean, wipe) ground control's
        for n, (client_id, clean) in enumerate((("drone-2", False), ("ground-control", True))):
            intruder = Session(port, "drone-1", client_id, clean=clean)
            try:
                intruder.publish("lmf/v1/vehicle/drone-1/event", f"event-{n}".encode())  # its own: allowed
                assert gc.wait_for(n + 1), "ground control stopped hearing events"
            finally:
                intruder.close()
                stolen += intruder.messages
        d2_back = Session(port, "drone-2", "drone-2")         # resumes its session: the queue is there
        try:
            assert d2_back.wait_for(1), "drone-2's queued command was lost or taken"
            assert d2_back.messages == [("lmf/v1/vehicle/drone-2/command", b"queued-for-drone-2")]
        finally:
            d2_back.close()
        assert gc.disconnects == 0, "ground control was disconnected by another account's client"
        assert gc.messages == [("lmf/v1/vehicle/drone-1/event", b"event-0"), ("lmf/v1/vehicle/drone-1/event", b"event-1")]
        assert stolen == []
    finally:
        gc.close()


def test_the_healthcheck_account_reads_uptime_without_touching_ground_control(deployed_broker):
    port = deployed_broker
    gc = Session(port, "ground-control", "ground-control", ["lmf/v1/vehicle/+/event"])
    check = Session(port, "healthcheck", "mosquitto-sub-probe", ["$SYS/broker/uptime"], clean=True)
    try:
        assert check.wait_for(1, 20), "no $SYS/broker/uptime for the healthcheck account"
        assert gc.disconnects == 0
    finally:
        check.close()
        gc.close()
