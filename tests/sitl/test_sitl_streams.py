"""A GCS chooses what the simulator streams, by ArduPilot's rules (sitl/streams.py)."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from sitl import SimFleet
from sitl.streams import StreamRates
from sitl_gcs import Gcs, mavlink

SET_INTERVAL = mavlink.MAV_CMD_SET_MESSAGE_INTERVAL


def count_for(g: Gcs, seconds: float) -> Counter:
    """Message types received during ``seconds`` (after the link drained what was queued)."""
    counts: Counter = Counter()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        m = g.conn.recv_match(blocking=True, timeout=max(0.01, end - time.monotonic()))
        if m is not None:
            counts[m.get_type()] += 1
    return counts


@pytest.fixture()
def fleet():
    with SimFleet(copters=1, base_port=0) as f:
        yield f


def test_set_message_interval_follows_ardupilot_rules():
    r = StreamRates(tick_ms=100)
    assert r.set_message_interval(74, -1) == mavlink.MAV_RESULT_ACCEPTED  # -1: stop
    assert not r.streaming(74)
    assert r.set_message_interval(74, 0) == mavlink.MAV_RESULT_ACCEPTED  # 0: back to default
    assert r.interval_ms[74] == 1000
    assert r.set_message_interval(33, 500) == mavlink.MAV_RESULT_ACCEPTED  # < 1 ms: 1 ms
    assert r.interval_ms[33] == 1
    assert r.set_message_interval(33, 120_000_000) == mavlink.MAV_RESULT_ACCEPTED  # > 60 s: 60 s
    assert r.interval_ms[33] == 60_000
    assert r.set_message_interval(9999, 1_000_000) == mavlink.MAV_RESULT_FAILED  # cannot send it
    r.request_data_stream(0, 0, 0)  # REQUEST_DATA_STREAM ALL, stop
    assert [i for i, ms in r.interval_ms.items() if ms] == [0]  # HEARTBEAT is in no stream group
    r.request_data_stream(6, 2, 1)  # POSITION at 2 Hz
    assert r.interval_ms[33] == 500
    assert sorted(r.due(10)) == [0, 33] and r.due(5) == [33] and r.due(6) == []


def test_gcs_chooses_its_telemetry_and_a_reboot_restores_the_defaults(fleet):
    v = fleet.vehicles[0]
    g = Gcs(v.port)
    try:
        before = count_for(g, 3.0)
        assert before["VFR_HUD"] >= 2 and before["GLOBAL_POSITION_INT"] >= 10  # 1 Hz and 5 Hz

        g.mav.request_data_stream_send(1, 1, mavlink.MAV_DATA_STREAM_ALL, 0, 0)
        assert g.command(SET_INTERVAL, 33, 1_000_000) == mavlink.MAV_RESULT_ACCEPTED
        assert g.command(SET_INTERVAL, 1, 500_000) == mavlink.MAV_RESULT_ACCEPTED
        assert g.command(SET_INTERVAL, 9999, 1_000_000) == mavlink.MAV_RESULT_FAILED
        count_for(g, 0.5)  # what was already on its way
        after = count_for(g, 4.0)
        assert after["VFR_HUD"] == after["ATTITUDE"] == after["BATTERY_STATUS"] == 0
        assert 2 <= after["GLOBAL_POSITION_INT"] <= 6  # 1 Hz, not 5 Hz
        assert 6 <= after["SYS_STATUS"] <= 10  # 2 Hz
        assert after["HEARTBEAT"] >= 3  # never in a stream group

        # the choice belongs to the port: a reconnecting GCS finds it
        g.close()
        g = Gcs(v.port)
        assert count_for(g, 2.5)["VFR_HUD"] == 0

        # a reboot restores the defaults
        assert g.command(mavlink.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN, 1) == mavlink.MAV_RESULT_ACCEPTED
        g.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                g = Gcs(v.port, timeout=2.0)
                break
            except (AssertionError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert count_for(g, 3.0)["VFR_HUD"] >= 2
    finally:
        g.close()
