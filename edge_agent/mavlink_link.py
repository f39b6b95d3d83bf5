"""The MAVLink edge: one autopilot connection, asyncio-native, with ArduPilot's quirks handled.

pymavlink's ``mavutil`` connections block; an agent process runs up to a few hundred links, so
instead of a thread per link this module uses pymavlink's codec (``MAVLink.parse_buffer`` /
``MAVLink.send``) over an asyncio TCP stream: same wire format, no threads, and the reconnect
after a dropped TCP link is an ordinary loop. (Serial links would need a reader thread around
``mavutil``; only ``tcp:HOST:PORT`` is implemented.)

What it does for the agent:

* keeps the latest vehicle state (mode, armed, position, GPS fix, EKF flags, home, battery,
  MISSION_CURRENT) and forwards every message to an ``on_message`` callback;
* ``wait_ready``: heartbeat, GPS_RAW_INT fix >= 3, and EKF_STATUS_REPORT with attitude, velocity
  and absolute position flags and neither const-pos mode nor uninitialised (falls back to
  HOME_POSITION only if the autopilot sends no EKF reports at all) -- GLOBAL_POSITION_INT reads
  0,0 until then and an early ARM would later fail the take-off;
* ``upload``: the mission protocol for mission and fence (MISSION_COUNT with retries, answering
  both MISSION_REQUEST and MISSION_REQUEST_INT with MISSION_ITEM_INT, MISSION_ACK checked);
* ``set_mode`` by ArduPilot custom mode number via MAV_CMD_DO_SET_MODE (SET_MODE as fallback),
  verified by HEARTBEAT;
* ``arm``: retried until a deadline, collecting the "PreArm:"/"Arm:" STATUSTEXTs that explain a
  refusal (COMMAND_ACK only says DENIED);
* chooses its telemetry (edge_agent/stream_plan.py): every stream group stopped, then
  MAV_CMD_SET_MESSAGE_INTERVAL per message it reads, on each connect and after the autopilot
  rebooted (its boot clock went back); an autopilot that does not know the command gets the legacy
  REQUEST_DATA_STREAM ALL at ``stream_hz`` instead;
* ``get_param`` / ``set_param`` (PARAM_REQUEST_READ / PARAM_SET, answered by PARAM_VALUE), ``command`` (COMMAND_LONG / COMMAND_ACK);
* MAVLink 2 signing when given a ``signing_key``: every outgoing frame is signed, and only frames
  signed with that key count (RADIO_STATUS / RADIO excepted, as in ArduPilot). An autopilot whose
  HEARTBEATs arrive unsigned is sent SETUP_SIGNING with the key (at most every 2 s); the link counts
  as connected only once the autopilot's own frames arrive signed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import ardupilotmega as mavlink  # noqa: E402

from edge_agent.mavlink_key import signing_timestamp  # noqa: E402
from edge_agent.mission_translation import MissionItem  # noqa: E402
from edge_agent.stream_plan import message_intervals  # noqa: E402

COPTER_MODES = {"STABILIZE": 0, "AUTO": 3, "GUIDED": 4, "LOITER": 5, "RTL": 6, "LAND": 9, "BRAKE": 17, "SMART_RTL": 21}
ROVER_MODES = {"MANUAL": 0, "HOLD": 4, "LOITER": 5, "AUTO": 10, "RTL": 11, "SMART_RTL": 12, "GUIDED": 15}

EKF_REQUIRED = (mavlink.EKF_ATTITUDE | mavlink.EKF_VELOCITY_HORIZ | mavlink.EKF_VELOCITY_VERT
                | mavlink.EKF_POS_HORIZ_ABS | mavlink.EKF_POS_VERT_ABS)
EKF_BAD = mavlink.EKF_CONST_POS_MODE | mavlink.EKF_UNINITIALIZED

#: accepted without a signature: telemetry radios cannot sign (ArduPilot's accept_list); an unsigned
#: HEARTBEAT is decoded only to see that the autopilot does not sign yet, never handled
UNSIGNED_OK = frozenset({mavlink.MAVLINK_MSG_ID_RADIO_STATUS, mavlink.MAVLINK_MSG_ID_RADIO})
SETUP_SIGNING_EVERY_S = 2.0
#: no byte from the autopilot for this long: the link is dead, reconnect
SILENCE_S = 5.0
STREAMS_RETRY_S = 10.0
SIGNING_LINK_ID = 0

MISSION_RESULT = {v: k for k, v in vars(mavlink).items() if k.startswith("MAV_MISSION_") and isinstance(v, int)
                  and k not in ("MAV_MISSION_TYPE_MISSION", "MAV_MISSION_TYPE_FENCE", "MAV_MISSION_TYPE_RALLY", "MAV_MISSION_TYPE_ALL")}


class LinkError(Exception):
    pass


def parse_url(url: str) -> tuple[str, int]:
    scheme, _, rest = url.partition(":")
    if scheme != "tcp" or ":" not in rest:
        raise ValueError(f"unsupported MAVLink URL {url!r}: use tcp:HOST:PORT")
    host, _, port = rest.rpartition(":")
    return host or "127.0.0.1", int(port)


class SigningMAVLink(mavlink.MAVLink):
    """pymavlink's codec, with the signature checked before the stream's timestamp is recorded.

    pymavlink records (link id, sysid, compid) -> timestamp before it compares the signature, so a
    single forged frame with a far-future timestamp would make every real frame of that stream
    look replayed. The C library (what ArduPilot runs) checks the signature first; so does this,
    then applies pymavlink's timestamp rules without hashing the frame a second time (this runs for
    every frame an agent receives)."""

    def check_signature(self, msgbuf: bytearray, srcSystem: int, srcComponent: int) -> bool:
        signing = self.signing
        key = signing.secret_key
        if key is None or hashlib.sha256(bytes(key) + bytes(msgbuf[:-6])).digest()[:6] != bytes(msgbuf[-6:]):
            return False
        tlow, thigh = self.mav_sign_unpacker.unpack(msgbuf[-12:-6])
        timestamp = tlow + (thigh << 32)
        stream_key = (msgbuf[-13], srcSystem, srcComponent)
        last = signing.stream_timestamps.get(stream_key)
        if last is not None:
            if timestamp <= last:
                return False  # replayed or reordered
        elif timestamp + 6000 * 1000 < signing.timestamp:
            return False  # a new stream more than a minute behind
        signing.stream_timestamps[stream_key] = timestamp
        signing.timestamp = max(signing.timestamp, timestamp)
        return True


class _Writer:
    """The ``file`` pymavlink's MAVLink.send writes to."""

    def __init__(self) -> None:
        self.transport: asyncio.WriteTransport | None = None

    def write(self, buf: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(buf)


@dataclass
class VehicleState:
    connected: bool = False
    heartbeat_at: float = 0.0
    vehicle_type: int | None = None
    custom_mode: int | None = None
    armed: bool = False
    lat: float = 0.0
    lon: float = 0.0
    alt_m: float = 0.0
    heading_deg: float = 0.0
    ground_speed: float = 0.0
    gps_fix: int = 0
    ekf_flags: int | None = None
    home: tuple[float, float] | None = None
    battery_pct: float = 0.0
    battery_v: float | None = None
    mission_seq: int | None = None
    servo_pwm: list[int] = field(default_factory=list)   # SERVO_OUTPUT_RAW servo1..16 (0 = no output)
    time_boot_ms: int | None = None
    texts: list[tuple[float, int, str]] = field(default_factory=list)


class MavlinkLink:
    def __init__(
        self,
        url: str,
        *,
        kind: str = "copter",
        on_message: Callable[[Any], None] | None = None,
        stream_hz: int = 4,
        telemetry_hz: float | None = None,
        source_system: int = 255,
        source_component: int = 190,
        name: str = "",
        signing_key: bytes | None = None,
    ) -> None:
        self.host, self.port = parse_url(url)
        self.kind = kind
        self.modes = COPTER_MODES if kind == "copter" else ROVER_MODES
        self.mode_names = {v: k for k, v in self.modes.items()}
        self.on_message = on_message
        self.stream_hz = stream_hz  # legacy REQUEST_DATA_STREAM rate, for autopilots without 511
        #: message id -> interval (us) asked with SET_MESSAGE_INTERVAL; None: the legacy request
        self.stream_plan = None if telemetry_hz is None else message_intervals(telemetry_hz)
        self.streams_configured = 0     # completed stream configurations (one per connect/reboot)
        self._streams_task: asyncio.Task[None] | None = None
        self._rx_at = 0.0
        self.log = logging.getLogger(f"edge_agent.mavlink.{name}" if name else "edge_agent.mavlink")
        self._w = _Writer()
        self.mav = SigningMAVLink(self._w, srcSystem=source_system, srcComponent=source_component)
        self.mav.robust_parsing = True
        self.signing_key = signing_key
        if signing_key is not None:
            sig = self.mav.signing
            sig.secret_key = bytes(signing_key)
            sig.sign_outgoing = True
            sig.link_id = SIGNING_LINK_ID
            sig.timestamp = signing_timestamp()
            sig.allow_unsigned_callback = lambda _mav, msg_id: (
                msg_id in UNSIGNED_OK or msg_id == mavlink.MAVLINK_MSG_ID_HEARTBEAT)
        self.peer_signs = False          # this connection's autopilot signs with our key
        self._setup_sent_at = -1e9
        self.setup_signing_sent = 0
        self.signing_rejected = 0
        self._foreign_key_logged_at = -1e9
        self.target_system = 1
        self.target_component = 1
        self.state = VehicleState()
        self._waiters: list[tuple[Callable[[Any], bool], asyncio.Future[Any]]] = []
        self._collectors: list[tuple[Callable[[Any], bool], asyncio.Queue[Any]]] = []
        self._connected = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._streams_due = False
        self.connects = 0

    # ---- connection loop -------------------------------------------------------------------
    @property
    def mode(self) -> str:
        cm = self.state.custom_mode
        return self.mode_names.get(cm, str(cm)) if cm is not None else ""

    async def run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError as exc:
                self.log.debug("connect %s:%s failed: %s", self.host, self.port, exc)
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, 5.0)
                continue
            self._w.transport = writer.transport  # type: ignore[assignment]
            self.peer_signs = False
            self._setup_sent_at = -1e9
            self.state.connected = True
            self.connects += 1
            self._rx_at = time.monotonic()
            hb = asyncio.create_task(self._heartbeats(writer))
            self.log.info("MAVLink connected to %s:%s", self.host, self.port)
            beats_before = self.state.heartbeat_at
            try:
                await self._read(reader)
            finally:
                if self.state.heartbeat_at != beats_before:
                    backoff = 0.2  # a link that carried heartbeats counts as good: start over
                else:
                    backoff = min(backoff * 2, 5.0)  # accepted then closed (e.g. a busy port)
                hb.cancel()
                if self._streams_task is not None:
                    self._streams_task.cancel()
                self.state.connected = False
                self._connected.clear()
                self._w.transport = None
                writer.close()
                self.log.warning("MAVLink link to %s:%s lost", self.host, self.port)
            if not self._stopping:
                await asyncio.sleep(backoff * (0.5 + random.random()))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        """Decode and handle until EOF; silence is caught by :meth:`_heartbeats` (one timer per
        second rather than a ``wait_for`` task per read)."""
        self._streams_due = True
        while not self._stopping:
            try:
                data = await reader.read(8192)
            except OSError:
                return
            if not data:
                return
            self._rx_at = time.monotonic()
            try:
                msgs = self.mav.parse_buffer(data) or []
            except Exception as exc:  # a corrupt frame must not kill the link
                self.log.debug("MAVLink parse error: %s", exc)
                continue
            for msg in msgs:
                if self.signing_key is not None and not self._signed_ok(msg):
                    continue
                self._handle(msg)
                if self._streams_due and self._connected.is_set() and msg.get_type() == "HEARTBEAT":
                    self._streams_due = False
                    self.request_streams()

    async def _heartbeats(self, writer: asyncio.StreamWriter) -> None:
        """Our 1 Hz HEARTBEAT, and the silence watchdog: closing the transport ends the read."""
        while True:
            if time.monotonic() - self._rx_at > SILENCE_S:
                self.log.warning("no MAVLink traffic for %.0f s; reconnecting", SILENCE_S)
                writer.transport.abort()
                return
            self.send(self.mav.heartbeat_encode(mavlink.MAV_TYPE_ONBOARD_CONTROLLER, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0))
            await asyncio.sleep(1.0)

    def stop(self) -> None:
        self._stopping = True
        if self._w.transport is not None:
            self._w.transport.close()

    def send(self, msg: Any) -> None:
        try:
            self.mav.send(msg)
        except Exception as exc:  # pragma: no cover - transport gone mid-write
            self.log.debug("send failed: %s", exc)

    def request_streams(self) -> None:
        """Ask for the telemetry this agent reads (in the background: it waits for acks)."""
        if self.stream_plan is None:
            self._legacy_streams()
            return
        if self._streams_task is not None and not self._streams_task.done():
            self._streams_task.cancel()
        self._streams_task = asyncio.create_task(self._configure_streams(self.stream_plan))

    def _legacy_streams(self) -> None:
        self.send(self.mav.request_data_stream_encode(self.target_system, self.target_component,
                                                      mavlink.MAV_DATA_STREAM_ALL, self.stream_hz, 1))

    async def _configure_streams(self, plan: dict[int, int]) -> None:
        """Stop every stream group, then one SET_MESSAGE_INTERVAL per message (in that order: a
        later REQUEST_DATA_STREAM would overwrite the intervals of its group)."""
        self.send(self.mav.request_data_stream_encode(self.target_system, self.target_component,
                                                      mavlink.MAV_DATA_STREAM_ALL, 0, 0))
        refused = []
        for msg_id, interval_us in plan.items():
            result = await self.command(mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, msg_id, interval_us,
                                        timeout=2.0, retries=2)
            if result == mavlink.MAV_RESULT_UNSUPPORTED:
                # the autopilot cannot choose per message: everything back on, the old way
                self.log.warning("SET_MESSAGE_INTERVAL unsupported; streaming all groups at %d Hz", self.stream_hz)
                self._legacy_streams()
                return
            if result is None:
                # unanswered (a busy link): telemetry back on the old way, the plan again later
                self.log.warning("SET_MESSAGE_INTERVAL unanswered; all groups at %d Hz, retrying in %.0f s",
                                 self.stream_hz, STREAMS_RETRY_S)
                self._legacy_streams()
                await asyncio.sleep(STREAMS_RETRY_S * (0.5 + random.random()))
                self._streams_task = asyncio.create_task(self._configure_streams(plan))
                return
            if result != mavlink.MAV_RESULT_ACCEPTED:
                refused.append(msg_id)
        if refused:
            self.log.warning("autopilot refused message intervals for ids %s", refused)
        self.streams_configured += 1

    # ---- signing -----------------------------------------------------------------------------
    def _signed_ok(self, msg: Any) -> bool:
        """Whether a decoded frame may reach the agent: signed with our key, or a radio's status."""
        if msg.get_type() == "BAD_DATA":
            if "signature" in str(getattr(msg, "reason", "")):
                self.signing_rejected += 1
            return False
        if getattr(msg, "_signed", False):
            self.peer_signs = True
            return True
        if msg.get_msgId() in UNSIGNED_OK:
            return True
        self.signing_rejected += 1
        if msg.get_type() == "HEARTBEAT" and _is_autopilot(msg):
            buf = msg.get_msgbuf()
            if buf[0] == mavlink.PROTOCOL_MARKER_V2 and buf[2] & mavlink.MAVLINK_IFLAG_SIGNED:
                now = time.monotonic()
                if now - self._foreign_key_logged_at > 30:
                    self._foreign_key_logged_at = now
                    self.log.warning("autopilot signs with another key (or an old timestamp); its traffic is ignored")
            elif not self.peer_signs:
                self._offer_key(msg)
        return False

    def _offer_key(self, heartbeat: Any) -> None:
        """SETUP_SIGNING to an autopilot that does not sign yet. ArduPilot stores the key, signs
        from then on and answers nothing: its next signed frame is the acknowledgement."""
        now = time.monotonic()
        if now - self._setup_sent_at < SETUP_SIGNING_EVERY_S or self.signing_key is None:
            return
        self._setup_sent_at = now
        self.setup_signing_sent += 1
        if self.setup_signing_sent in (1, 5) or self.setup_signing_sent % 30 == 0:
            hint = "" if self.setup_signing_sent == 1 else (
                " (still unsigned: an autopilot that cannot sign needs --no-mavlink-signing)")
            self.log.warning("autopilot %d does not sign: sending SETUP_SIGNING%s", heartbeat.get_srcSystem(), hint)
        self.send(self.mav.setup_signing_encode(heartbeat.get_srcSystem(), heartbeat.get_srcComponent(),
                                                list(self.signing_key), self.mav.signing.timestamp))

    # ---- inbound -----------------------------------------------------------------------------
    def _handle(self, msg: Any) -> None:
        t = msg.get_type()
        if t == "BAD_DATA":
            return
        s = self.state
        if t == "HEARTBEAT":
            if msg.autopilot == mavlink.MAV_AUTOPILOT_INVALID or msg.type == mavlink.MAV_TYPE_GCS:
                return  # another GCS / companion, not the autopilot
            self.target_system = msg.get_srcSystem()
            self.target_component = msg.get_srcComponent()
            s.heartbeat_at = time.monotonic()
            s.vehicle_type = msg.type
            s.custom_mode = msg.custom_mode
            s.armed = bool(msg.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
            self._connected.set()
        elif t == "GLOBAL_POSITION_INT":
            if s.time_boot_ms is not None and msg.time_boot_ms + 1000 < s.time_boot_ms:
                # the autopilot rebooted without dropping the link (a serial port): its message
                # intervals are back to the defaults
                self._streams_due = True
            s.time_boot_ms = msg.time_boot_ms
            if msg.lat or msg.lon:
                s.lat, s.lon = msg.lat / 1e7, msg.lon / 1e7
                s.alt_m = msg.relative_alt / 1000.0
            s.ground_speed = (msg.vx ** 2 + msg.vy ** 2) ** 0.5 / 100.0
            if msg.hdg != 65535:
                s.heading_deg = msg.hdg / 100.0
        elif t == "GPS_RAW_INT":
            s.gps_fix = msg.fix_type
        elif t == "EKF_STATUS_REPORT":
            s.ekf_flags = msg.flags
        elif t == "HOME_POSITION":
            s.home = (msg.latitude / 1e7, msg.longitude / 1e7)
        elif t == "SYS_STATUS":
            if msg.battery_remaining >= 0:
                s.battery_pct = float(msg.battery_remaining)
            if msg.voltage_battery not in (0, 65535):
                s.battery_v = msg.voltage_battery / 1000.0
        elif t == "BATTERY_STATUS":
            if msg.battery_remaining >= 0:
                s.battery_pct = float(msg.battery_remaining)
        elif t == "VFR_HUD":
            s.ground_speed = msg.groundspeed
            s.heading_deg = float(msg.heading % 360)
        elif t == "MISSION_CURRENT":
            s.mission_seq = msg.seq
        elif t == "SERVO_OUTPUT_RAW":
            s.servo_pwm = servo_outputs(msg)
        elif t == "STATUSTEXT":
            text = msg.text.rstrip("\x00") if isinstance(msg.text, str) else str(msg.text)
            s.texts = s.texts[-19:] + [(time.monotonic(), msg.severity, text)]
            self.log.info("autopilot: %s", text)
        if self._waiters:
            for pred, fut in list(self._waiters):
                if not fut.done():
                    try:
                        if pred(msg):
                            fut.set_result(msg)
                    except Exception:  # a sloppy predicate must not break the link
                        pass
        for pred, queue in list(self._collectors):
            try:
                if pred(msg):
                    queue.put_nowait(msg)
            except Exception:  # a sloppy predicate must not break the link
                pass
        if self.on_message is not None:
            self.on_message(msg)

    async def wait_for(self, pred: Callable[[Any], bool], timeout: float) -> Any | None:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (pred, fut)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            self._waiters.remove(entry)

    @contextlib.contextmanager
    def collect(self, pred: Callable[[Any], bool]) -> Iterator[asyncio.Queue[Any]]:
        """Every message matching ``pred`` while the block runs, in arrival order. Unlike
        :meth:`wait_for`, nothing that arrives between two reads is lost: an autopilot answers in
        bursts (a NAK and the next request in one TCP read)."""
        entry: tuple[Callable[[Any], bool], asyncio.Queue[Any]] = (pred, asyncio.Queue())
        self._collectors.append(entry)
        try:
            yield entry[1]
        finally:
            self._collectors.remove(entry)

    async def wait_connected(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    # ---- readiness -----------------------------------------------------------------------------
    def ready_reason(self) -> str | None:
        """``None`` when the vehicle may be armed, else what it still waits for."""
        s = self.state
        if not self._connected.is_set():
            return "no heartbeat"
        if s.gps_fix < 3:
            return f"GPS fix type {s.gps_fix} < 3"
        if s.ekf_flags is not None:
            if s.ekf_flags & EKF_REQUIRED != EKF_REQUIRED or s.ekf_flags & EKF_BAD:
                return f"EKF not using GPS yet (flags 0x{s.ekf_flags:x})"
        elif s.home is None:
            return "no EKF report and no home position"
        return None

    async def wait_ready(self, timeout: float) -> str | None:
        """Wait until armable; returns ``None`` or the reason it is still not ready."""
        deadline = time.monotonic() + timeout
        last_req = 0.0
        while True:
            reason = self.ready_reason()
            if reason is None:
                return None
            if time.monotonic() > deadline:
                return reason
            if self.state.home is None and time.monotonic() - last_req > 2.0 and self._connected.is_set():
                last_req = time.monotonic()
                self.send(self.mav.command_long_encode(self.target_system, self.target_component,
                                                       mavlink.MAV_CMD_REQUEST_MESSAGE, 0,
                                                       mavlink.MAVLINK_MSG_ID_HOME_POSITION, 0, 0, 0, 0, 0, 0))
            await asyncio.sleep(0.1)

    # ---- commands ------------------------------------------------------------------------------
    async def command(self, cmd: int, *params: float, timeout: float = 2.0, retries: int = 2) -> int | None:
        """COMMAND_LONG; returns the COMMAND_ACK result (MAV_RESULT) or ``None`` if unanswered."""
        p = list(params) + [0.0] * (7 - len(params))
        for attempt in range(retries + 1):
            self.send(self.mav.command_long_encode(self.target_system, self.target_component, cmd, attempt, *p))
            ack = await self.wait_for(lambda m: m.get_type() == "COMMAND_ACK" and m.command == cmd, timeout)
            if ack is not None:
                return ack.result
        return None

    async def set_mode(self, name: str, timeout: float = 4.0) -> bool:
        """Switch flight mode. ArduPilot's COMMAND_ACK ACCEPTED for DO_SET_MODE means the mode
        changed (HEARTBEAT, 1 Hz, confirms it later); either one counts."""
        number = self.modes[name]
        deadline = time.monotonic() + timeout
        attempt = 0
        while time.monotonic() < deadline:
            if self.state.custom_mode == number:
                return True
            if attempt % 2 == 0:
                self.send(self.mav.command_long_encode(
                    self.target_system, self.target_component, mavlink.MAV_CMD_DO_SET_MODE, 0,
                    mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, number, 0, 0, 0, 0, 0))
            else:
                self.send(self.mav.set_mode_encode(self.target_system, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, number))
            attempt += 1
            msg = await self.wait_for(
                lambda m: (m.get_type() == "HEARTBEAT" and m.custom_mode == number and m.autopilot != mavlink.MAV_AUTOPILOT_INVALID)
                or (m.get_type() == "COMMAND_ACK" and m.command == mavlink.MAV_CMD_DO_SET_MODE),
                min(1.0, max(0.05, deadline - time.monotonic())))
            if msg is not None and msg.get_type() == "COMMAND_ACK":
                if msg.result == mavlink.MAV_RESULT_ACCEPTED:
                    self.state.custom_mode = number
                    return True
                await asyncio.sleep(min(0.3, max(0.0, deadline - time.monotonic())))
        return self.state.custom_mode == number

    async def arm(self, timeout: float) -> tuple[bool, str]:
        """Retry ARM until armed or ``timeout``; returns (armed, the autopilot's refusal text)."""
        deadline = time.monotonic() + timeout
        since = time.monotonic()
        result: int | None = None
        while time.monotonic() < deadline:
            if self.state.armed:
                return True, ""
            result = await self.command(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 1, timeout=1.5, retries=0)
            if result == mavlink.MAV_RESULT_ACCEPTED:
                # ACCEPTED means armed (the 1 Hz HEARTBEAT confirms it later); don't wait for it:
                # an idle armed copter disarms itself after DISARM_DELAY.
                self.state.armed = True
                return True, ""
            await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        texts = [t for ts, _, t in self.state.texts if ts >= since and ("arm" in t.lower())]
        detail = "; ".join(dict.fromkeys(texts)) or f"arming refused (COMMAND_ACK result {result})"
        return self.state.armed, detail

    async def disarm(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.state.armed:
                return True
            if await self.command(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 0, timeout=1.0, retries=0) == mavlink.MAV_RESULT_ACCEPTED:
                self.state.armed = False
                return True
            await asyncio.sleep(0.2)
        return not self.state.armed

    async def wait_servo(self, channel: int, pwm: int, timeout: float) -> bool:
        """Until SERVO_OUTPUT_RAW shows ``pwm`` on servo output ``channel`` (1-based)."""
        def at(values: list[int]) -> bool:
            return len(values) >= channel and values[channel - 1] == pwm
        if at(self.state.servo_pwm):
            return True
        msg = await self.wait_for(lambda m: m.get_type() == "SERVO_OUTPUT_RAW" and at(servo_outputs(m)), timeout)
        return msg is not None

    async def reboot_autopilot(self, timeout: float = 60.0) -> bool:
        """MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN (disarmed only) and wait until it is back: the link
        reconnected (SITL closes its TCP port) or its boot clock restarted. What we knew about
        its GPS, EKF and home is forgotten, so :meth:`wait_ready` waits for the new boot."""
        connects, boot_ms = self.connects, self.state.time_boot_ms
        if await self.command(mavlink.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN, 1, timeout=3.0, retries=0) != mavlink.MAV_RESULT_ACCEPTED:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rebooted = self.connects > connects or (
                boot_ms is not None and self.state.time_boot_ms is not None and self.state.time_boot_ms + 1000 < boot_ms)
            if rebooted and self._connected.is_set():
                s = self.state
                s.gps_fix, s.ekf_flags, s.home, s.servo_pwm = 0, None, None, []
                return True
            await asyncio.sleep(0.1)
        return False

    async def get_param(self, name: str, timeout: float = 2.0, retries: int = 2) -> float | None:
        """PARAM_REQUEST_READ by name; ``None`` when the autopilot does not answer (unknown name)."""
        pid = name.encode()
        for _ in range(retries + 1):
            self.send(self.mav.param_request_read_encode(self.target_system, self.target_component, pid, -1))
            pv = await self.wait_for(lambda m: m.get_type() == "PARAM_VALUE" and _pname(m.param_id) == name, timeout)
            if pv is not None:
                return float(pv.param_value)
        return None

    async def set_param(self, name: str, value: float, timeout: float = 2.0, retries: int = 2) -> bool:
        pid = name.encode()
        for _ in range(retries + 1):
            self.send(self.mav.param_set_encode(self.target_system, self.target_component, pid, float(value),
                                                mavlink.MAV_PARAM_TYPE_REAL32))
            pv = await self.wait_for(lambda m: m.get_type() == "PARAM_VALUE" and _pname(m.param_id) == name, timeout)
            if pv is not None:
                return abs(pv.param_value - value) < 1e-3 * max(1.0, abs(value))
        return False

    async def upload(self, items: Iterable[MissionItem], mission_type: int = 0, *, timeout: float = 1.5,
                     retries: int = 5) -> str | None:
        """Mission protocol upload; returns ``None`` on MISSION_ACK ACCEPTED, else why it failed."""
        items = list(items)

        def relevant(m: Any) -> bool:
            return (m.get_type() in ("MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK")
                    and getattr(m, "mission_type", 0) == mission_type)

        with self.collect(relevant) as inbox:
            return await self._upload_from(inbox, items, mission_type, timeout, retries)

    async def _upload_from(self, inbox: asyncio.Queue[Any], items: list[MissionItem], mission_type: int,
                           timeout: float, retries: int) -> str | None:
        count = len(items)
        got_request = False
        misses = 0
        self._send_count(count, mission_type)
        while True:
            try:
                msg = await asyncio.wait_for(inbox.get(), timeout)
            except asyncio.TimeoutError:
                msg = None
            if msg is None:
                misses += 1
                if misses > retries:
                    return f"no answer to the mission upload ({'items' if got_request else 'MISSION_COUNT'}) after {retries} retries"
                if not got_request:
                    self._send_count(count, mission_type)
                continue
            misses = 0
            if msg.get_type() == "MISSION_ACK":
                if msg.type == mavlink.MAV_MISSION_ACCEPTED:
                    return None
                if msg.type == mavlink.MAV_MISSION_INVALID_SEQUENCE:
                    # not fatal in ArduPilot: an item it did not expect (our answer to a request
                    # it re-sent before our first answer arrived); the transfer carries on
                    continue
                if not got_request and msg.type == mavlink.MAV_MISSION_OPERATION_CANCELLED:
                    continue  # the end of an earlier, abandoned transfer
                return f"autopilot refused the upload: {MISSION_RESULT.get(msg.type, msg.type)}"
            got_request = True
            seq = msg.seq
            if not 0 <= seq < count:
                return f"autopilot requested item {seq} of {count}"
            it = items[seq]
            self.send(self.mav.mission_item_int_encode(
                self.target_system, self.target_component, seq, it.frame, it.command,
                1 if seq == 0 and mission_type == 0 else 0, it.autocontinue,
                it.param1, it.param2, it.param3, it.param4, it.x, it.y, it.z, mission_type))

    def _send_count(self, count: int, mission_type: int) -> None:
        self.send(self.mav.mission_count_encode(self.target_system, self.target_component, count, mission_type))


def _is_autopilot(heartbeat: Any) -> bool:
    return heartbeat.autopilot != mavlink.MAV_AUTOPILOT_INVALID and heartbeat.type != mavlink.MAV_TYPE_GCS


def servo_outputs(msg: Any) -> list[int]:
    """servo1_raw..servo16_raw of a SERVO_OUTPUT_RAW (9-16 are MAVLink 2 extensions: 0 if absent)."""
    return [int(getattr(msg, f"servo{i}_raw", 0) or 0) for i in range(1, 17)]


def _pname(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    return raw.rstrip("\x00")
