"""MAVLink 2 signing between the agent and the autopilot (the simulator, which enforces it as
ArduPilot does): the agent provisions its key once, signs everything, ignores unsigned traffic,
and another process on the link can no longer command the vehicle."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

import pytest

from edge_agent.mavlink_key import KeyFileError, load_or_create_key, read_key
from edge_agent.mavlink_link import MavlinkLink
from edge_factories import HOME, mission_payload
from edge_harness import Events, RunningAgent, publish, until
from fleet_protocol import topics
from sitl import SimFleet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sitl"))
from sitl_gcs import Gcs, mavlink  # noqa: E402

SPEEDUP = 20.0
COPTER_LOITER = 5


@pytest.fixture()
def fleet():
    with SimFleet(copters=1, home=HOME, speedup=SPEEDUP, base_port=0) as f:
        yield f


def agent_for(fleet, vid, broker, tmp_path, **kw) -> RunningAgent:
    return RunningAgent(vehicle_id=vid, mavlink_url=f"tcp:127.0.0.1:{fleet.vehicles[0].port}",
                        mqtt_url=broker.url, vehicle_type="drone", outbox_path=str(tmp_path / f"{vid}.db"), **kw)


async def signed_link(port: int, key: bytes | None) -> tuple[MavlinkLink, asyncio.Task[None]]:
    link = MavlinkLink(f"tcp:127.0.0.1:{port}", signing_key=key, name="test")
    return link, asyncio.create_task(link.run())


async def close(link: MavlinkLink, task: asyncio.Task[None]) -> None:
    link.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def intruder_refused(port: int, sysid: int) -> bool:
    """Another TCP client (or one spoofing the agent's ids) asks for LOITER unsigned: no ack."""
    g = Gcs(port, sysid=sysid, timeout=10)
    try:
        g.command(mavlink.MAV_CMD_DO_SET_MODE, 1, COPTER_LOITER, timeout=2.0)
        return False
    except AssertionError:
        return True
    finally:
        g.close()


def test_key_file_is_created_once_private_and_reused(tmp_path):
    path = tmp_path / "state" / "d1-mavlink.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and any(key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key
    hexfile = tmp_path / "hex.key"
    hexfile.write_text(key.hex() + "\n")
    os.chmod(hexfile, 0o600)
    assert read_key(hexfile) == key
    os.chmod(hexfile, 0o644)
    with pytest.raises(KeyFileError, match="readable"):
        read_key(hexfile)
    zero = tmp_path / "zero.key"
    zero.write_bytes(bytes(32))
    os.chmod(zero, 0o600)
    with pytest.raises(KeyFileError, match="all-zero"):
        read_key(zero)


async def test_agent_sets_up_signing_then_flies_a_mission(fleet, mqtt_broker, unique_id, tmp_path):
    vid = f"d{unique_id}"
    v = fleet.vehicles[0]
    ra = agent_for(fleet, vid, mqtt_broker, tmp_path)
    async with Events(mqtt_broker.host, mqtt_broker.port, vid) as ev:
        agent = await ra.online()
        try:
            await until(lambda: agent.mav.peer_signs, 20, "the autopilot to sign")
            key = (tmp_path / f"{vid}-mavlink.key").read_bytes()
            assert v.signing_key == key and agent.mav.setup_signing_sent >= 1
            # an unsigned process on the same link is ignored while the agent is obeyed
            assert intruder_refused(v.port, sysid=254)
            await publish(mqtt_broker.host, mqtt_broker.port, topics.mission(vid),
                          mission_payload(vid, stops_m=((60, 0),)))
            await ev.wait_kind("returned", timeout=90)
        finally:
            await ra.stop()
    assert ev.kinds()[:2] == ["accepted", "started"] and "delivered" in ev.kinds()
    assert v.landed and not v.armed and v.gripper_releases == 1


async def test_spoofed_agent_ids_cannot_change_mode(fleet):
    """An injector that copies the agent's system/component ids still cannot sign."""
    v = fleet.vehicles[0]
    key = os.urandom(32)
    link, task = await signed_link(v.port, key)
    try:
        assert await link.wait_connected(20)
        mode = v.mode
        assert await asyncio.to_thread(intruder_refused, v.port, 255)
        assert v.mode == mode and v.rejected_unsigned > 0
        assert await link.set_mode("LOITER")
        await until(lambda: v.mode == COPTER_LOITER, 5, "LOITER from the signed agent")
    finally:
        await close(link, task)


async def test_agent_restart_keeps_talking_with_the_same_key(fleet, mqtt_broker, unique_id, tmp_path):
    vid = f"d{unique_id}"
    v = fleet.vehicles[0]
    first = agent_for(fleet, vid, mqtt_broker, tmp_path)
    a1 = await first.online()
    await until(lambda: a1.mav.peer_signs, 20, "the autopilot to sign")
    await first.stop()
    second = agent_for(fleet, vid, mqtt_broker, tmp_path)
    a2 = await second.online()
    try:
        assert await a2.mav.wait_connected(20)
        assert a2.mav.peer_signs and a2.mav.setup_signing_sent == 0  # the key was already there
        assert await a2.mav.set_mode("LOITER")
        await until(lambda: v.mode == COPTER_LOITER, 5, "LOITER after the restart")
    finally:
        await second.stop()


async def test_a_wrong_key_is_refused_and_does_not_replace_the_vehicles_key(fleet):
    v = fleet.vehicles[0]
    owner_key, other_key = os.urandom(32), os.urandom(32)
    owner, t1 = await signed_link(v.port, owner_key)
    assert await owner.wait_connected(20)
    await close(owner, t1)
    other, t2 = await signed_link(v.port, other_key)
    try:
        assert not await other.wait_connected(4)  # the autopilot's frames fail our key
        assert other.setup_signing_sent == 0 and other.signing_rejected > 0
        mode = v.mode
        await other.command(mavlink.MAV_CMD_DO_SET_MODE, 1, COPTER_LOITER, timeout=1.0, retries=1)
        assert v.mode == mode and v.signing_key == owner_key
    finally:
        await close(other, t2)


async def test_signing_can_be_turned_off_for_autopilots_that_cannot_sign(fleet, mqtt_broker, unique_id, tmp_path):
    vid = f"d{unique_id}"
    ra = agent_for(fleet, vid, mqtt_broker, tmp_path, mavlink_signing=False)
    agent = await ra.online()
    try:
        assert await agent.mav.wait_connected(20)
        assert await agent.mav.set_mode("LOITER")
        assert fleet.vehicles[0].signing_key is None and not (tmp_path / f"{vid}-mavlink.key").exists()
    finally:
        await ra.stop()


def test_a_forged_frame_cannot_lock_out_the_autopilots_stream():
    """One forged frame with a far-future timestamp must not make the autopilot's real frames look
    replayed (stock pymavlink records the timestamp before checking the signature)."""
    from edge_agent.mavlink_key import signing_timestamp
    from edge_agent.mavlink_link import SigningMAVLink, mavlink as mav

    key, now = os.urandom(32), signing_timestamp()

    def autopilot(k: bytes, ts: int) -> bytes:
        tx = mav.MAVLink(None, srcSystem=1, srcComponent=1)
        tx.signing.secret_key, tx.signing.sign_outgoing, tx.signing.link_id, tx.signing.timestamp = k, True, 1, ts
        return tx.heartbeat_encode(2, 3, 0, 0, 3, 3).pack(tx)

    rx = SigningMAVLink(None)
    rx.robust_parsing = True
    rx.signing.secret_key, rx.signing.timestamp = key, now
    assert rx.parse_buffer(autopilot(key, now))[0].get_signed()
    forged = rx.parse_buffer(autopilot(os.urandom(32), now + 10**12))[0]
    assert forged.get_type() == "BAD_DATA"
    assert rx.parse_buffer(autopilot(key, now + 5))[0].get_signed()
    # the timestamp rules still hold after the single hash: a replay, an old frame and a new
    # stream more than a minute behind are refused
    frame = autopilot(key, now + 10)
    assert rx.parse_buffer(frame)[0].get_signed()
    assert rx.parse_buffer(frame)[0].get_type() == "BAD_DATA"
    assert rx.parse_buffer(autopilot(key, now + 7))[0].get_type() == "BAD_DATA"
    tx = mav.MAVLink(None, srcSystem=7, srcComponent=1)
    tx.signing.secret_key, tx.signing.sign_outgoing, tx.signing.link_id, tx.signing.timestamp = key, True, 1, now - 6001 * 1000
    assert rx.parse_buffer(tx.heartbeat_encode(2, 3, 0, 0, 3, 3).pack(tx))[0].get_type() == "BAD_DATA"
    assert rx.signing.timestamp >= now + 10  # our clock follows the newest accepted frame


@pytest.mark.parametrize("clock_jump_s", [-3600, 3600])
async def test_a_restarted_agent_with_a_jumped_clock_still_talks(fleet, clock_jump_s):
    """Timestamps must only move forward per stream; a companion whose clock jumped an hour back
    or ahead across a restart catches up with the autopilot's clock from its first signed frame."""
    v = fleet.vehicles[0]
    key = os.urandom(32)
    first, t1 = await signed_link(v.port, key)
    assert await first.wait_connected(20)
    assert await first.set_mode("LOITER")
    await close(first, t1)
    second = MavlinkLink(f"tcp:127.0.0.1:{v.port}", signing_key=key, name="test")
    second.mav.signing.timestamp += clock_jump_s * 100_000
    t2 = asyncio.create_task(second.run())
    try:
        assert await second.wait_connected(20)
        assert await second.set_mode("GUIDED")
        await until(lambda: v.mode_name == "GUIDED", 5, "GUIDED after the restart")
    finally:
        await close(second, t2)
