"""Exactly-once events across a broker restart and an agent SIGKILL, mid-flight."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from edge_factories import GC_PUBLIC, HOME, mission_payload
from edge_harness import Events, RunningAgent, publish
from edge_agent.outbox import Outbox
from fleet_protocol import topics
from ground_control.embedded.broker import free_port, port_open
from sitl import SimFleet

SPEEDUP = 20.0
REPO = Path(__file__).resolve().parents[2]
FAR = ((700, 0), (700, 600))  # ~2.3 km: ~12 s of wall time at 20x
#: two parcels need two release outputs (one gripper carries one parcel): SERVO10 and SERVO11
SERVOS = (10, 11)
EXPECTED = ["accepted", "started", "leg_reached", "delivered", "leg_reached", "delivered", "leg_reached", "returned"]


class RestartableMosquitto:
    """A mosquitto whose persistence file survives restarts on the same port (the shared
    fixture's stop() deletes its directory, and with it every session)."""

    def __init__(self) -> None:
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(self.binary):
            pytest.skip("no mosquitto binary")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="lmf-edge-mq-"))
        (self.dir / "m.conf").write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.dir}/\nautosave_interval 1\nmax_queued_messages 100000\nlog_dest none\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.dir / "m.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: mosquitto writes its persistence file
            self.proc.wait(10)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture()
def fleet():
    with SimFleet(copters=1, home=HOME, speedup=SPEEDUP, base_port=0) as f:
        yield f


def assert_exactly_once(ev: Events) -> None:
    assert ev.kinds() == EXPECTED, ev.kinds()  # no logical event twice, none missing
    assert [d["parcel_id"] for d in ev.of("delivered")] == ["p1", "p2"]
    assert [l["leg_index"] for l in ev.of("leg_reached")] == [0, 1, 2]
    assert len(set(ev.order)) == len(ev.order) == len(EXPECTED)


@pytest.mark.slow
async def test_broker_restart_mid_flight(fleet, unique_id, tmp_path):
    mq = RestartableMosquitto()
    mq.start()
    vid = f"d{unique_id}"
    v = fleet.vehicles[0]
    ra = RunningAgent(vehicle_id=vid, mavlink_url=f"tcp:127.0.0.1:{v.port}", mqtt_url=f"mqtt://127.0.0.1:{mq.port}",
                      outbox_path=str(tmp_path / "ob.db"), release_servos=SERVOS)
    try:
        async with Events("127.0.0.1", mq.port, vid, persistent=True) as ev:
            agent = await ra.online()
            await publish("127.0.0.1", mq.port, topics.mission(vid), mission_payload(vid, stops_m=FAR))
            await ev.wait_kind("started", timeout=30)
            await asyncio.sleep(1.0)  # let the state-sync autosave run once with both sessions
            mq.stop()
            down_at = len(ev.order)
            await asyncio.sleep(6.0)  # the drone flies on; events pile up in the outbox
            queued = agent.outbox.pending_count()
            mq.start()
            await ev.wait_kind("returned", timeout=90)
            await asyncio.sleep(1.0)
            await ra.stop()
    finally:
        await ra.stop()
        mq.close()
    assert queued >= 1, "nothing happened while the broker was down: the test proves nothing"
    assert down_at < len(EXPECTED)
    assert_exactly_once(ev)
    assert v.servo_outputs[9:11] == [1100, 1100] and not v.armed
    assert Outbox(tmp_path / "ob.db").pending_count() == 0


def _spawn_agent(vid: str, port: int, broker_url: str, outbox: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    gc_public = outbox.parent / "gc-public.pem"   # the tests' ground-control key, pinned
    gc_public.write_text(GC_PUBLIC)
    return subprocess.Popen(
        [sys.executable, str(REPO / "fleet_cli.py"), "--log-level", "INFO", "agent", "--vehicle-id", vid,
         "--mavlink", f"tcp:127.0.0.1:{port}", "--mqtt", broker_url, "--outbox", str(outbox),
         "--gc-public-key", str(gc_public),
         *(a for ch in SERVOS for a in ("--release-servo", str(ch)))],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _agent_kwargs(fleet, mqtt_broker, vid: str, tmp_path: Path) -> dict:
    """One agent on the fleet's first simulated vehicle, its outbox in the test's folder (kept
    across the restarts these tests make)."""
    return dict(vehicle_id=vid, mavlink_url=f"tcp:127.0.0.1:{fleet.vehicles[0].port}",
                mqtt_url=mqtt_broker.url, outbox_path=str(tmp_path / "ob.db"))


async def _retained_status(host: str, port: int, vid: str) -> dict:
    import aiomqtt, json
    async with aiomqtt.Client(host, port) as c:
        await c.subscribe(topics.status(vid), qos=1)
        async with asyncio.timeout(5):
            async for m in c.messages:
                return json.loads(m.payload)["body"]
    raise AssertionError("no retained status")


async def _wait_status_online(host: str, port: int, vid: str, timeout: float = 20) -> None:
    import aiomqtt, json
    async with aiomqtt.Client(host, port) as c:
        await c.subscribe(topics.status(vid), qos=1)
        async with asyncio.timeout(timeout):
            async for m in c.messages:
                if json.loads(m.payload)["body"]["state"] == "online":
                    return


@pytest.mark.slow
async def test_agent_sigkilled_mid_flight_and_restarted(fleet, mqtt_broker, unique_id, tmp_path):
    vid = f"d{unique_id}"
    v = fleet.vehicles[0]
    outbox, log = tmp_path / "ob.db", tmp_path / "agent.log"
    host, port = mqtt_broker.host, mqtt_broker.port
    procs: list[subprocess.Popen[bytes]] = []
    try:
        async with Events(host, port, vid) as ev:
            procs.append(_spawn_agent(vid, v.port, mqtt_broker.url, outbox, log))
            await _wait_status_online(host, port, vid)
            await publish(host, port, topics.mission(vid), mission_payload(vid, stops_m=FAR))
            await ev.wait_kind("delivered", timeout=60)
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait(5)
            killed_at = len(ev.order)
            await asyncio.sleep(3.0)  # the vehicle keeps flying without its agent
            procs.append(_spawn_agent(vid, v.port, mqtt_broker.url, outbox, log))
            await ev.wait_kind("returned", timeout=90)
            await asyncio.sleep(1.0)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(10)
            if p.poll() is None:
                p.kill()
    text = log.read_text()
    assert "resuming mission m1" in text, text[-3000:]
    assert killed_at < len(EXPECTED)
    assert_exactly_once(ev)
    assert v.servo_outputs[9:11] == [1100, 1100] and not v.armed and v.landed
    assert Outbox(outbox).pending_count() == 0


async def test_mission_sent_while_agent_offline_arrives_on_reconnect(fleet, mqtt_broker, unique_id, tmp_path):
    """Persistent session: the broker keeps the agent's subscriptions and queues QoS 1 missions."""
    vid = f"d{unique_id}"
    kw = _agent_kwargs(fleet, mqtt_broker, vid, tmp_path)
    first = RunningAgent(**kw)
    async with Events(mqtt_broker.host, mqtt_broker.port, vid) as ev:
        await first.online()
        assert (await _retained_status(mqtt_broker.host, mqtt_broker.port, vid))["state"] == "online"
        await first.stop()
        status = await _retained_status(mqtt_broker.host, mqtt_broker.port, vid)
        assert status["state"] == "offline" and status["vehicle_type"] == "drone"  # a clean stop sends no will
        await publish(mqtt_broker.host, mqtt_broker.port, topics.mission(vid), mission_payload(vid, stops_m=((100, 0),)))
        await asyncio.sleep(0.5)
        assert ev.kinds() == []
        second = RunningAgent(**kw)
        second.start()
        try:
            await ev.wait_kind("returned", timeout=60)
        finally:
            await second.stop()
    assert ev.kinds() == ["accepted", "started", "leg_reached", "delivered", "leg_reached", "returned"]


async def test_offline_status_carries_the_time_it_was_published(fleet, mqtt_broker, unique_id, tmp_path):
    """The retained offline status said the agent's start time; a clean stop now publishes one
    stamped at the stop (a will's ts is when the will was set, at connect: documented)."""
    import aiomqtt, json
    from datetime import datetime
    vid = f"d{unique_id}"
    v = fleet.vehicles[0]
    ra = RunningAgent(vehicle_id=vid, mavlink_url=f"tcp:127.0.0.1:{v.port}", mqtt_url=mqtt_broker.url,
                      outbox_path=str(tmp_path / "ob.db"))
    await ra.online()
    await asyncio.sleep(1.5)
    stopped_at = time.time()
    await ra.stop()
    try:
        async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as c:
            await c.subscribe(topics.status(vid), qos=1)
            async with asyncio.timeout(5):
                async for m in c.messages:
                    env = json.loads(m.payload)
                    break
        assert env["body"]["state"] == "offline"
        ts = datetime.fromisoformat(env["ts"]).timestamp()
        assert ts >= stopped_at - 0.5, f"offline status stamped {stopped_at - ts:.1f} s before the stop"
    finally:
        await publish(mqtt_broker.host, mqtt_broker.port, topics.status(vid), b"")  # clear the retained status


async def test_agent_restarted_after_the_release_does_not_invent_the_proof(fleet, mqtt_broker, unique_id, tmp_path):
    """Killed mid-descent, restarted once the drone has released and climbed back: the agent did
    not see the release, so the proof has no position or time and is not confirmed."""
    vid = f"d{unique_id}"
    v = fleet.vehicles[0]
    kw = _agent_kwargs(fleet, mqtt_broker, vid, tmp_path)
    first = RunningAgent(**kw)
    async with Events(mqtt_broker.host, mqtt_broker.port, vid) as ev:
        await first.online()
        await publish(mqtt_broker.host, mqtt_broker.port, topics.mission(vid), mission_payload(vid, stops_m=((400, 0),)))
        await ev.wait_kind("leg_reached", timeout=60)  # over the drop-off, descending
        await _until(lambda: v.alt_m < 20, 30)
        await first.kill()
        await _until(lambda: v.gripper_releases == 1 and v.alt_m > 25, 60)  # released, climbed back
        second = RunningAgent(**kw)
        second.start()
        try:
            await ev.wait_kind("returned", timeout=90)
        finally:
            await second.stop()
    proof = ev.of("delivered")[0]["proof"]
    assert proof["observed"] is False and proof["confirmed"] is False and "restarted" in proof["reason"]
    assert proof.get("position") is None and proof.get("delivered_at") is None
    assert ev.of("returned")[0]["undelivered"] == []


async def _until(cond, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)
