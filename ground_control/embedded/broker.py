"""Find or start an MQTT broker: the configured one, a ``mosquitto`` binary on PATH, or amqtt
in-process. Only the zero-install demo and tests on a bare machine use the last two."""

from __future__ import annotations

import asyncio
import contextlib
import os
import logging
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger(__name__)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.closing(socket.socket()) as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningBroker:
    url: str
    kind: str  # "external", "mosquitto" or "amqtt"
    _stop: object = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return urlparse(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlparse(self.url).port or 1883

    def stop(self) -> None:
        if callable(self._stop):
            self._stop()
            self._stop = None


def mosquitto_binary() -> str | None:
    if path := shutil.which("mosquitto"):
        return path
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def launch_mosquitto(config: str, port: int, cleanup: Path | None = None) -> RunningBroker:
    """Start mosquitto with ``config`` (which must listen on ``port``) and wait until it accepts
    connections. ``cleanup`` is a folder removed when the broker stops."""
    binary = mosquitto_binary()
    if binary is None:
        raise FileNotFoundError("mosquitto")
    conf_dir = Path(tempfile.mkdtemp(prefix="lmf-mosquitto-conf-"))
    conf = conf_dir / "mosquitto.conf"
    conf.write_text(config)
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not port_open("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"mosquitto did not start on port {port}")
        time.sleep(0.05)

    def stop() -> None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(conf_dir, ignore_errors=True)
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)

    return RunningBroker(url=f"mqtt://127.0.0.1:{port}", kind="mosquitto", _stop=stop)


def _hand_to_broker_user(folder: Path) -> None:
    """Started as root, mosquitto drops to the ``mosquitto`` user, which could not write a folder
    root made: persistence would fail silently and a restart lose every session."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    import pwd

    with contextlib.suppress(KeyError, OSError):
        user = pwd.getpwnam("mosquitto")
        os.chown(folder, user.pw_uid, user.pw_gid)


def start_mosquitto(port: int | None = None) -> RunningBroker:
    """Run a private anonymous mosquitto on a free port (persistence on, so QoS 1 sessions
    survive while it runs)."""
    if mosquitto_binary() is None:
        raise FileNotFoundError("mosquitto")
    port = port or free_port()
    workdir = Path(tempfile.mkdtemp(prefix="lmf-mosquitto-"))
    _hand_to_broker_user(workdir)
    config = (
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {workdir}/\nmax_queued_messages 100000\nlog_dest none\n"
    )
    return launch_mosquitto(config, port, cleanup=workdir)


def start_amqtt(port: int | None = None) -> RunningBroker:
    """amqtt in a background thread with its own event loop. MQTT 3.1.1 only; no ACL plugin
    (it loses QoS 1 messages under load with topic checking on)."""
    from amqtt.broker import Broker  # imported lazily: only the fallback needs it

    port = port or free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}", "max_connections": 5000}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        broker = Broker(config, loop=loop)
        holder["broker"] = broker
        loop.run_until_complete(broker.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="amqtt-broker", daemon=True)
    thread.start()
    if not ready.wait(15):
        raise RuntimeError("amqtt broker did not start")

    def stop() -> None:
        fut = asyncio.run_coroutine_threadsafe(holder["broker"].shutdown(), loop)  # type: ignore[union-attr]
        with contextlib.suppress(Exception):
            fut.result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)

    return RunningBroker(url=f"mqtt://127.0.0.1:{port}", kind="amqtt", _stop=stop)


def ensure_broker(url: str | None = None, *, prefer_private: bool = False) -> RunningBroker:
    """Use ``url`` if it answers; otherwise start mosquitto from PATH, else amqtt."""
    if url and not prefer_private:
        parsed = urlparse(url)
        if port_open(parsed.hostname or "127.0.0.1", parsed.port or 1883):
            return RunningBroker(url=url, kind="external")
        log.warning("broker %s is not reachable; starting an embedded one", url)
    try:
        return start_mosquitto()
    except (FileNotFoundError, RuntimeError) as exc:
        log.info("no usable mosquitto (%s); falling back to in-process amqtt", exc)
        return start_amqtt()
