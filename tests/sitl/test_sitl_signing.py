"""MAVLink 2 signing in the simulator, as ArduPilot does it: once SETUP_SIGNING has set a key, a
telemetry port drops unsigned and wrongly signed traffic (no COMMAND_ACK, nothing happens)."""

from __future__ import annotations

import hashlib
import struct
import time

import pytest

from sitl import SimFleet
from sitl.signing import ONE_MINUTE, SigningGate, timestamp_from_unix

from sitl_gcs import Gcs, mavlink

HOME = (52.37, 4.89)
KEY = hashlib.sha256(b"vehicle-0 test key").digest()
OTHER_KEY = hashlib.sha256(b"someone else").digest()
COPTER_GUIDED, COPTER_LOITER = 4, 5


@pytest.fixture()
def fleet():
    with SimFleet(copters=1, home=HOME, speedup=20.0, base_port=0) as f:
        yield f


def signed_gcs(port: int, key: bytes, sysid: int = 255) -> Gcs:
    """A GCS that signs with ``key`` (and reads whatever it is sent)."""
    g = Gcs(port, sysid=sysid, wait_heartbeat=False)
    g.conn.setup_signing(key, sign_outgoing=True, allow_unsigned_callback=lambda _mav, _msg_id: True)
    g.hb = g.wait("HEARTBEAT", 10)
    return g


def set_key(port: int, key: bytes) -> None:
    """SETUP_SIGNING from a GCS on a vehicle without a key (as over a USB cable)."""
    g = Gcs(port, timeout=10)
    try:
        g.mav.setup_signing_send(1, 1, list(key), timestamp_from_unix(time.time()))
        # the vehicle answers nothing; its frames are signed from now on
        g.wait("HEARTBEAT", 10, cond=lambda m: m.get_msgbuf()[2] & 1)
    finally:
        g.close()


def wait_until(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def refused(g: Gcs, cmd: int, *params: float) -> bool:
    """No COMMAND_ACK within 2 s: the frame was dropped before any handler saw it."""
    try:
        g.command(cmd, *params, timeout=2.0)
    except AssertionError:
        return True
    return False


def test_unsigned_gcs_cannot_change_mode_or_arm_once_a_key_is_set(fleet):
    v = fleet.vehicles[0]
    set_key(v.port, KEY)
    assert v.signing_key == KEY
    mode_before = v.mode
    intruder = Gcs(v.port, timeout=10)
    owner = signed_gcs(v.port, KEY)
    try:
        assert refused(intruder, mavlink.MAV_CMD_DO_SET_MODE, 1, COPTER_LOITER)
        intruder.mav.set_mode_send(1, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, COPTER_LOITER)
        assert refused(intruder, mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 1)
        assert v.mode == mode_before and not v.armed
        assert v.rejected_unsigned >= 3
        # the key holder is obeyed on the same port at the same time
        assert owner.set_mode(COPTER_GUIDED) == mavlink.MAV_RESULT_ACCEPTED
        wait_until(lambda: v.mode == COPTER_GUIDED, 5, "GUIDED")
    finally:
        intruder.close()
        owner.close()


def test_wrong_key_is_refused_and_cannot_replace_the_key(fleet):
    v = fleet.vehicles[0]
    set_key(v.port, KEY)
    stranger = signed_gcs(v.port, OTHER_KEY)
    try:
        assert refused(stranger, mavlink.MAV_CMD_DO_SET_MODE, 1, COPTER_LOITER)
        stranger.mav.setup_signing_send(1, 1, list(OTHER_KEY), timestamp_from_unix(time.time()))
        stranger.mav.setup_signing_send(1, 1, [0] * 32, 0)  # "signing off", signed with the wrong key
        time.sleep(0.5)
        assert v.signing_key == KEY
    finally:
        stranger.close()


def test_key_survives_a_reboot_and_a_zero_key_disables_signing(fleet):
    v = fleet.vehicles[0]
    set_key(v.port, KEY)
    owner = signed_gcs(v.port, KEY)
    assert owner.command(mavlink.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN, 1) == mavlink.MAV_RESULT_ACCEPTED
    owner.close()
    wait_until(lambda: v.boots == 2, 10, "reboot")
    time.sleep(0.7)  # the port refuses connections for 0.5 s after a reboot
    assert v.signing_key == KEY
    intruder = Gcs(v.port, timeout=10)
    owner = signed_gcs(v.port, KEY)
    try:
        assert refused(intruder, mavlink.MAV_CMD_DO_SET_MODE, 1, COPTER_LOITER)
        # the key holder turns signing off: all-zero key and zero timestamp (ArduPilot's rule)
        owner.mav.setup_signing_send(1, 1, [0] * 32, 0)
        wait_until(lambda: v.signing_key is None, 5, "signing off")
        assert intruder.set_mode(COPTER_LOITER) == mavlink.MAV_RESULT_ACCEPTED
    finally:
        intruder.close()
        owner.close()


def test_channel_zero_takes_unsigned_traffic_like_sitl_serial0():
    """ArduPilot trusts channel 0 (USB; SERIAL0 = tcp 5760 on SITL): a key changes nothing there."""
    with SimFleet(copters=1, home=HOME, speedup=20.0, base_port=0, mavlink_channel=0) as f:
        v = f.vehicles[0]
        set_key(v.port, KEY)
        g = Gcs(v.port, timeout=10)
        try:
            assert g.set_mode(COPTER_LOITER) == mavlink.MAV_RESULT_ACCEPTED
        finally:
            g.close()


# ---- the gate's rules, frame by frame (no sockets) -------------------------------------------
def frame(key: bytes, ts: int, link_id: int = 0, body: bytes = b"\xfd\x01\x01\x00\x07\xff\xbe\x00\x00\x00\x01\x00\x00") -> bytes:
    """A fake signed MAVLink 2 frame: the gate only reads flags, signature block and the hash."""
    head = body + struct.pack("<BQ", link_id, ts)[:7]
    return head + hashlib.sha256(key + head).digest()[:6]


def gate_with_key(now_ts: int) -> SigningGate:
    g = SigningGate()
    g.setup(KEY, now_ts, now_s=0.0)
    return g


def test_gate_replay_and_stream_rules():
    t0 = timestamp_from_unix(time.time())
    g = gate_with_key(t0)
    assert g.timestamp == t0 + ONE_MINUTE  # loaded one minute on
    assert g.accept(frame(KEY, t0 + 10), 76, 255, 190, channel=1)
    assert not g.accept(frame(KEY, t0 + 10), 76, 255, 190, channel=1)  # replay
    assert not g.accept(frame(KEY, t0 + 5), 76, 255, 190, channel=1)   # backwards
    assert g.accept(frame(KEY, t0 + 11), 76, 255, 190, channel=1)
    # a new stream more than a minute behind the vehicle's clock is refused
    assert not g.accept(frame(KEY, t0 - 2 * ONE_MINUTE, link_id=3), 76, 255, 190, channel=1)
    assert not g.accept(frame(OTHER_KEY, t0 + 20), 76, 255, 190, channel=1)
    assert not g.accept(b"\xfd\x01\x00" + b"\x00" * 20, 76, 255, 190, channel=1)  # unsigned
    assert g.accept(b"\xfd\x01\x00" + b"\x00" * 20, 109, 255, 190, channel=1)     # RADIO_STATUS
    assert g.accept(b"\xfd\x01\x00" + b"\x00" * 20, 76, 255, 190, channel=0)      # USB / SERIAL0


def test_gate_bad_signature_does_not_move_the_stream():
    """A forged frame with a huge timestamp must not lock the real sender out (ArduPilot checks
    the signature before it records the stream's timestamp)."""
    t0 = timestamp_from_unix(time.time())
    g = gate_with_key(t0)
    assert not g.accept(frame(OTHER_KEY, t0 + 10**9), 76, 255, 190, channel=1)
    assert g.accept(frame(KEY, t0 + 10), 76, 255, 190, channel=1)


def test_gate_timestamp_is_saved_and_reloaded_a_minute_on():
    t0 = timestamp_from_unix(time.time())
    g = gate_with_key(t0)
    g.raise_to(t0 + 5 * ONE_MINUTE)
    g.maybe_save(now_s=31.0)
    assert g.stored is not None and g.stored.timestamp == t0 + 5 * ONE_MINUTE
    g.load(now_s=40.0)  # reboot
    assert g.key == KEY and g.timestamp == t0 + 6 * ONE_MINUTE and g.streams == {}


def test_cli_passes_the_channel_to_every_vehicle(monkeypatch):
    from click.testing import CliRunner

    import sitl.cli as cli
    import sitl.fleet as fleet_mod

    seen = []

    class Spy(fleet_mod.SimFleet):
        def __enter__(self):
            seen.extend(v.link.channel for v in self.vehicles)
            return self

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(fleet_mod, "SimFleet", Spy)
    monkeypatch.setattr(cli, "_wait", lambda stop: None)
    res = CliRunner().invoke(cli.sim, ["--copters", "2", "--base-port", "0", "--mavlink-channel", "0"])
    assert res.exit_code == 0, res.output
    assert seen == [0, 0]
