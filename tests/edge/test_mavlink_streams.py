"""The agent's MAVLink link asks for only the telemetry it reads (edge_agent/stream_plan.py), signed,
and asks again after the autopilot rebooted: the simulator streams by ArduPilot's rules."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from edge_agent.mavlink_link import MavlinkLink
from edge_agent.stream_plan import message_intervals
from edge_factories import HOME
from edge_harness import until
from sitl import SimFleet

KEY = bytes(range(32))


@pytest.fixture()
def fleet():
    with SimFleet(copters=1, home=HOME, base_port=0) as f:
        yield f


def test_plan_follows_the_telemetry_rate():
    assert message_intervals(1.0)[33] == 250_000    # the proof's position: at least 4 Hz
    assert message_intervals(10.0)[33] == 100_000
    assert message_intervals(0.2)[33] == 250_000
    assert set(message_intervals(1.0)) == {33, 1, 24, 193, 42, 36}


async def test_link_streams_only_what_the_agent_reads_and_again_after_a_reboot(fleet):
    v = fleet.vehicles[0]
    seen: Counter = Counter()
    link = MavlinkLink(f"tcp:127.0.0.1:{v.port}", telemetry_hz=1.0, signing_key=KEY, name="streams",
                       on_message=lambda m: seen.update([m.get_type()]))
    task = asyncio.create_task(link.run())
    try:
        await until(lambda: link.streams_configured == 1, 30, "the message intervals")
        assert link.peer_signs  # asked over a signed link
        assert v.link.streams.interval_ms[33] == 250  # 4 Hz for the proof's position; the sim's default is 5 Hz
        await asyncio.sleep(0.5)
        seen.clear()
        await asyncio.sleep(4.0)
        assert seen["VFR_HUD"] == seen["ATTITUDE"] == seen["BATTERY_STATUS"] == 0
        assert 12 <= seen["GLOBAL_POSITION_INT"] <= 20
        assert seen["HEARTBEAT"] >= 3 and seen["SYS_STATUS"] >= 3
        assert sum(seen.values()) <= 48  # about 10 messages/s; the defaults are ~14, with VFR_HUD and the rest

        assert await link.reboot_autopilot(timeout=30)
        await until(lambda: link.streams_configured == 2, 30, "the intervals again after the reboot")
        assert v.boots == 2 and v.link.streams.interval_ms[74] == 0
    finally:
        link.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_a_boot_clock_going_back_asks_for_the_intervals_again():
    """A reboot over a link that stays up (a serial port): the intervals are back to the
    defaults, so the next HEARTBEAT must trigger the stream configuration again."""
    link = MavlinkLink("tcp:127.0.0.1:1", telemetry_hz=1.0)
    enc = link.mav.global_position_int_encode
    link._handle(enc(600_000, 0, 0, 0, 0, 0, 0, 0, 0))
    assert not link._streams_due
    link._handle(enc(601_000, 0, 0, 0, 0, 0, 0, 0, 0))
    assert not link._streams_due
    link._handle(enc(2_000, 0, 0, 0, 0, 0, 0, 0, 0))  # boot clock restarted
    assert link._streams_due
