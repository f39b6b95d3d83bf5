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

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
USERS = {"ground-control": "gc-pw", "drone-1": "d1-pw", "robot-1": "r1-pw"}


@pytest.fixture()
def acl_broker():
    if mosquitto_binary() is None or not shutil.which("mosquitto_passwd"):
        pytest.skip("mosquitto and mosquitto_passwd are needed")
    # Not pytest's tmp_path: its parents are private, and mosquitto started as root reads its
    # files after dropping to the mosquitto user.
    folder = Path(tempfile.mkdtemp(prefix="lmf-acl-"))
    folder.chmod(0o755)
    passwd = folder / "passwd"
    passwd.touch()
    for user, pw in USERS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, pw], check=True, capture_output=True)
    passwd.chmod(0o644)
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
