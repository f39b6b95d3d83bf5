"""The independent recorder: its own MQTT client on ``lmf/v1/#`` writing every message it sees
to a JSONL file, one line ``{"t", "topic", "retain", "payload"}`` per message.

It shares no code with ground control or the agents beyond paho: its persistent session
(``clean_session=False``, QoS 1) keeps what is published while it reconnects after a broker
restart, and it re-subscribes on every connect in case the broker lost the session (kill -9).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import paho.mqtt.client as mqtt

TOPICS = "lmf/v1/#"


class Recorder:
    def __init__(self, host: str, port: int, path: Path, client_id: str = "chaos-recorder") -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self.connects = 0
        self.messages = 0
        self.connected = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self._client.reconnect_delay_set(min_delay=0.2, max_delay=2)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._host, self._port = host, port

    def start(self) -> None:
        self._client.connect_async(self._host, self._port, keepalive=10)
        self._client.loop_start()
        if not self.connected.wait(15):
            raise RuntimeError("the recorder could not connect to the broker")

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        with self._lock:
            self._file.close()

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            return
        self.connects += 1
        client.subscribe(TOPICS, qos=1)
        self.connected.set()

    def _on_disconnect(self, *_a: Any) -> None:
        self.connected.clear()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            payload: Any = json.loads(msg.payload)
        except (ValueError, RecursionError):
            payload = msg.payload.decode("utf-8", "replace")[:2000]
        line = json.dumps({"t": time.time(), "topic": msg.topic, "retain": bool(msg.retain), "payload": payload})
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
                self._file.flush()
                self.messages += 1


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The recorder's lines, in arrival order (a torn last line is skipped)."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                continue
