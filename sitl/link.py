"""One vehicle's MAVLink 2 endpoint: a TCP server, telemetry, command and mission handling.

All I/O runs on the fleet's event loop; the vehicle model is stepped elsewhere and this class only
reads it, calls its command methods and drains its ``outbox``. Telemetry goes only to connected
clients, so idle vehicles with nobody listening cost almost nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from typing import Any

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import ardupilotmega as mavlink2  # noqa: E402

from .mission_protocol import MissionProtocol  # noqa: E402
from .modes import VehicleKind  # noqa: E402
from .signing import SigningGate, timestamp_from_unix  # noqa: E402
from .streams import StreamRates  # noqa: E402
from .vehicle import ACCEPTED, FAILED, UNSUPPORTED, VehicleModel  # noqa: E402

log = logging.getLogger(__name__)

MAV_TYPE_QUADROTOR = 2
MAV_TYPE_GROUND_ROVER = 10
MAV_AUTOPILOT_ARDUPILOTMEGA = 3
MAV_MODE_FLAG_CUSTOM_MODE_ENABLED = 1
MAV_MODE_FLAG_GUIDED_ENABLED = 8
MAV_MODE_FLAG_STABILIZE_ENABLED = 16
MAV_MODE_FLAG_SAFETY_ARMED = 128
MAV_STATE_CALIBRATING, MAV_STATE_STANDBY, MAV_STATE_ACTIVE, MAV_STATE_CRITICAL = 2, 3, 4, 5
MAV_PARAM_TYPE_REAL32 = 9
FORCE_MAGIC = 21196
#: "FW 4.7.0-dev" packed as ArduPilot does (major<<24 | minor<<16 | patch<<8 | type)
FLIGHT_SW_VERSION = (4 << 24) | (7 << 16) | (0 << 8) | 0
CAPABILITIES = (1 | 2 | 4 | 8 | 32 | 64 | 128 | 256 | 512 | 2048 | 4096 | 8192 | 65536)
SENSORS = 0x0020_002F | 0x0100_0000 | 0x0200_0000  # gyro/accel/mag/baro/gps/motors/battery/ahrs
MAX_WRITE_BUFFER = 256 * 1024


class Client:
    """One TCP connection: its own MAVLink parser and sequence numbers.

    Two codec objects: ``mav`` packs (and signs, with the vehicle's shared signing state) and
    ``parser`` only frames and decodes: the signature check is the vehicle's ``SigningGate``, which
    follows ArduPilot's order of checks rather than pymavlink's."""

    __slots__ = ("writer", "mav", "parser", "closed", "peer", "task", "pending", "gate")

    def __init__(self, writer: asyncio.StreamWriter, sysid: int, gate: SigningGate,
                 tx_signing: Any) -> None:
        self.writer = writer
        self.mav = mavlink2.MAVLink(None, srcSystem=sysid, srcComponent=1)
        self.mav.signing = tx_signing
        self.parser = mavlink2.MAVLink(None, srcSystem=sysid, srcComponent=1)
        self.parser.robust_parsing = True
        self.gate = gate
        self.closed = False
        self.peer = writer.get_extra_info("peername")
        self.task: asyncio.Task | None = asyncio.current_task()
        self.pending: list[bytes] = []  # flushed once per tick / per received chunk: fewer syscalls

    def send(self, name: str, args: tuple) -> None:
        if self.closed:
            return
        mav = self.mav
        gate = self.gate
        if gate.key is not None:
            mav.signing.timestamp = gate.timestamp
            buf = getattr(mav, name + "_encode")(*args).pack(mav)
            gate.timestamp = mav.signing.timestamp
        else:
            buf = getattr(mav, name + "_encode")(*args).pack(mav)
        mav.seq = (mav.seq + 1) % 256
        self.pending.append(buf)

    def flush(self) -> None:
        if not self.pending or self.closed:
            return
        data = b"".join(self.pending)
        self.pending.clear()
        transport = self.writer.transport
        if transport.is_closing():
            self.closed = True
            return
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            # a GCS that stopped reading: drop it rather than buffer forever
            self.close()
            return
        self.writer.write(data)

    def close(self) -> None:
        self.closed = True
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001 - closing a dead socket must never hurt the vehicle
            pass


class VehicleLink:
    """TCP server for one vehicle on its SITL port, speaking ArduPilot's MAVLink dialect."""

    def __init__(self, model: VehicleModel, instance: int, port: int, host: str = "127.0.0.1",
                 sysid: int = 1, channel: int = 1, tick_hz: int = 10) -> None:
        self.model = model
        #: this channel's telemetry choice (SET_MESSAGE_INTERVAL / REQUEST_DATA_STREAM); it
        #: outlives a TCP reconnect, as ArduPilot's per-channel intervals do, and resets at reboot
        self.streams = StreamRates(tick_ms=1000 // tick_hz)
        self.ticks_per_second = tick_hz
        #: ArduPilot's MAVLink channel of this port: 0 (SERIAL0, USB) takes unsigned traffic even
        #: with a key set; the default 1 is a telemetry port, where signing is enforced
        self.channel = channel
        self.signing = SigningGate()  # the key survives reboot() as in ArduPilot's StorageKeys
        self._tx_signing = mavlink2.MAVLinkSigning()
        self._signing_clock_from_gps = False
        self.rejected_unsigned = 0
        self.instance = instance
        self.host = host
        self.port = port
        self.sysid = sysid
        model.params["SYSID_THISMAV"] = float(sysid)
        self.clients: list[Client] = []
        self.server: asyncio.base_events.Server | None = None
        self.link_down_until = 0.0
        self.mission = MissionProtocol(model, self._send_to)
        self.messages_in = 0

    # ---------------------------------------------------------------- server
    async def start(self) -> None:
        self.server = await asyncio.start_server(self._on_client, self.host, self.port,
                                                 reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        tasks = []
        for c in list(self.clients):
            c.close()
            if c.task is not None and c.task is not asyncio.current_task():
                tasks.append(c.task)
        self.clients.clear()
        if self.server is not None:
            self.server.close()
        if tasks:
            # closing the transport ends each reader with EOF; cancelling instead makes asyncio's
            # stream callback log the CancelledError
            await asyncio.wait(tasks, timeout=1.0)

    @property
    def link_down(self) -> bool:
        return time.monotonic() < self.link_down_until

    def drop_link(self, seconds: float) -> None:
        """Fault: close every connection and refuse traffic for ``seconds`` of wall time."""
        self.link_down_until = time.monotonic() + seconds
        for c in list(self.clients):
            self.mission.drop_client(c)
            c.close()
        self.clients.clear()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.link_down:
            writer.close()
            return
        client = Client(writer, self.sysid, self.signing, self._tx_signing)
        self.clients.append(client)
        log.debug("vehicle %d: GCS connected from %s", self.instance, client.peer)
        try:
            while not client.closed:
                data = await reader.read(4096)
                if not data:
                    break
                if self.link_down:
                    continue  # traffic ignored during a link drop
                try:
                    msgs = client.parser.parse_buffer(data) or []
                except Exception:  # noqa: BLE001 - garbage on the wire is dropped, not fatal
                    continue
                for msg in msgs:
                    if not self._signature_ok(msg):
                        continue
                    self.messages_in += 1
                    try:
                        self._handle(client, msg)
                    except Exception:  # noqa: BLE001
                        log.exception("vehicle %d: error handling %s", self.instance, msg.get_type())
                self.flush()
        except (ConnectionError, OSError):
            pass
        finally:
            client.close()
            if client in self.clients:
                self.clients.remove(client)
            self.mission.drop_client(client)

    # ---------------------------------------------------------------- signing
    def _signature_ok(self, msg: Any) -> bool:
        """ArduPilot drops a frame that fails signing before any handler sees it (no ack)."""
        gate = self.signing
        if gate.key is None or msg.get_type() == "BAD_DATA":
            return True
        ok = gate.accept(bytes(msg.get_msgbuf()), msg.get_msgId(), msg.get_srcSystem(),
                         msg.get_srcComponent(), self.channel)
        if not ok:
            self.rejected_unsigned += 1
        return ok

    def _apply_signing(self) -> None:
        """Outgoing frames follow the gate: signed with its key and link id = channel, or not."""
        tx = self._tx_signing
        tx.secret_key = self.signing.key
        tx.sign_outgoing = self.signing.key is not None
        tx.link_id = self.channel
        tx.timestamp = self.signing.timestamp

    def _signing_housekeeping(self) -> None:
        """Once per second: GPS time lifts the signing clock (update_signing_timestamp, on GPS
        lock) and the running timestamp is saved every 30 s (save_signing_timestamp)."""
        gate = self.signing
        if not gate.enabled:
            return
        if not self._signing_clock_from_gps and self.model.gps_fix_type >= 3:
            self._signing_clock_from_gps = True
            gate.raise_to(timestamp_from_unix(time.time()))
        gate.maybe_save(time.monotonic())

    def _on_setup_signing(self, client: Client, msg: Any) -> None:
        self.signing.setup(bytes(msg.secret_key), int(msg.initial_timestamp), time.monotonic())
        self._signing_clock_from_gps = False
        self._apply_signing()
        log.info("vehicle %d: signing %s", self.instance, "enabled" if self.signing.enabled else "disabled")

    # ---------------------------------------------------------------- sending
    def _send_to(self, client: Client, name: str, args: tuple) -> None:
        try:
            client.send(name, args)
        except Exception:  # noqa: BLE001
            log.exception("vehicle %d: send %s failed", self.instance, name)

    def flush(self) -> None:
        for c in self.clients:
            c.flush()

    def broadcast(self, name: str, args: tuple) -> None:
        for c in self.clients:
            self._send_to(c, name, args)

    def statustext(self, severity: int, text: str) -> None:
        self.broadcast("statustext", (severity, text.encode()[:50]))

    # ---------------------------------------------------------------- telemetry
    def _time_boot_ms(self) -> int:
        return int(self.model.t * 1000) & 0xFFFFFFFF

    def _heartbeat_args(self) -> tuple:
        m = self.model
        base = MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | MAV_MODE_FLAG_STABILIZE_ENABLED
        if m.mode_name in ("GUIDED", "AUTO", "RTL", "SMART_RTL", "LOITER", "BRAKE", "HOLD"):
            base |= MAV_MODE_FLAG_GUIDED_ENABLED
        if m.armed:
            base |= MAV_MODE_FLAG_SAFETY_ARMED
        if m.t < 0.1 * m.warmup_s:
            status = MAV_STATE_CALIBRATING
        elif m.low_fs or m.ekf_fs:
            status = MAV_STATE_CRITICAL
        else:
            status = MAV_STATE_ACTIVE if m.armed else MAV_STATE_STANDBY
        vtype = MAV_TYPE_QUADROTOR if m.kind is VehicleKind.COPTER else MAV_TYPE_GROUND_ROVER
        return (vtype, MAV_AUTOPILOT_ARDUPILOTMEGA, base, m.mode, status, 3)

    def _global_position_args(self) -> tuple:
        m = self.model
        hdg = int(m.heading * 100) % 36000
        rad = math.radians(m.heading)
        vx = int(m.groundspeed * math.cos(rad) * 100)
        vy = int(m.groundspeed * math.sin(rad) * 100)
        vz = int(-m.climb * 100)
        if m.gps_fix_type < 3 and not m.home_set:
            return (self._time_boot_ms(), 0, 0, 0, 0, 0, 0, 0, 65535)
        lat, lon = m.lat_lon
        return (self._time_boot_ms(), int(lat * 1e7), int(lon * 1e7),
                int((m.home_amsl_m + m.alt) * 1000), int(m.alt * 1000), vx, vy, vz, hdg)

    def send_streams(self, tick: int) -> None:
        """The telemetry due on this simulator tick, as this channel's stream rates say
        (sitl.streams: SET_MESSAGE_INTERVAL / REQUEST_DATA_STREAM, ArduPilot's defaults)."""
        if not self.clients:
            return
        if tick % self.ticks_per_second == 0:
            self._signing_housekeeping()
        for msg_id in self.streams.due(tick):
            _STREAM_SENDERS[msg_id](self)

    def send_heartbeat(self) -> None:
        self.broadcast("heartbeat", self._heartbeat_args())

    def send_global_position(self) -> None:
        self.broadcast("global_position_int", self._global_position_args())

    def send_sys_status(self) -> None:
        b = self.model.battery
        self.broadcast("sys_status", (SENSORS, SENSORS, SENSORS, 100, int(b.voltage * 1000),
                                      int(b.current_a * 100), int(round(b.pct)), 0, 0, 0, 0, 0, 0))

    def send_battery_status(self) -> None:
        b = self.model.battery
        cell = min(65534, int(int(b.voltage * 1000) / 4))
        self.broadcast("battery_status", (0, 0, 0, 32767, [cell] * 4 + [65535] * 6,
                                          int(b.current_a * 100), int(b.used_mah), -1,
                                          int(round(b.pct))))

    def send_gps_raw(self) -> None:
        m = self.model
        fix = m.gps_fix_type
        if fix >= 3:
            lat, lon = m.lat_lon
            gps = (int(m.t * 1e6), fix, int(lat * 1e7), int(lon * 1e7),
                   int((m.home_amsl_m + m.alt) * 1000), 121, 200, int(m.groundspeed * 100),
                   int(m.heading * 100) % 36000, 10)
        else:
            gps = (int(m.t * 1e6), fix, 0, 0, 0, 65535, 65535, 0, 0, 0)
        self.broadcast("gps_raw_int", gps)

    def send_ekf_status(self) -> None:
        m = self.model
        var = 0.02 if m.ekf_ready else 0.0
        self.broadcast("ekf_status_report", (m.ekf_flags, var, var, var, var, 0.0))

    def send_vfr_hud(self) -> None:
        m = self.model
        self.broadcast("vfr_hud", (m.groundspeed, m.groundspeed, int(m.heading) % 360,
                                   0 if not m.armed else (0 if m.landed else 45),
                                   m.home_amsl_m + m.alt, m.climb))

    def send_attitude(self) -> None:
        m = self.model
        self.broadcast("attitude", (self._time_boot_ms(), 0.0, 0.0,
                                    math.radians(((m.heading + 180) % 360) - 180), 0.0, 0.0, 0.0))

    def send_fence_status(self) -> None:
        m = self.model
        if m.params["FENCE_ENABLE"]:
            # FENCE_BREACH: 0 none, 1 minalt, 2 maxalt, 3 boundary
            kind = 0 if not m.fence_breached else (2 if m.fence_breached == ["Max Alt"] else 3)
            self.broadcast("fence_status", (1 if m.fence_breached else 0, m.fence_breach_count,
                                            kind, m.fence_breach_time_ms, 1))

    def send_nav_controller(self) -> None:
        m = self.model
        target = m.nav_target() if m.armed else None
        if target is not None:
            tn, te, talt = target
            dn, de = tn - m.n, te - m.e
            brg = int(math.degrees(math.atan2(de, dn))) % 360
            self.broadcast("nav_controller_output", (0.0, 0.0, brg, brg, int(math.hypot(dn, de)),
                                                     talt - m.alt if m.is_copter else 0.0, 0.0, 0.0))

    def send_servo_outputs(self) -> None:
        """SERVO_OUTPUT_RAW (ArduPilot streams it with the RC channels); the gripper's PWM is how a
        GCS sees whether the gripper really moved."""
        pwm = self.model.servo_outputs()
        self.broadcast("servo_output_raw", (int(self.model.t * 1e6) & 0xFFFFFFFF, 0, *pwm))

    def send_mission_current(self) -> None:
        m = self.model
        total = max(0, len(m.items) - 1)
        # MISSION_STATE: 1 no mission, 2 not started, 3 active
        state = 1 if not total else (3 if m.mission_running else 2)
        in_auto = 1 if m.mode_name == "AUTO" else 0  # MISSION_CURRENT.mission_mode
        self.broadcast("mission_current", (m.mission_current, total, state, in_auto))

    def send_home(self, client: Client | None = None) -> bool:
        m = self.model
        if not m.home_set:
            return False
        lat, lon = m.home_lat_lon
        args = (int(lat * 1e7), int(lon * 1e7), int(m.home_amsl_m * 1000), 0.0, 0.0, 0.0,
                [1.0, 0.0, 0.0, 0.0], 0.0, 0.0, 0.0, int(m.t * 1e6))
        if client is None:
            self.broadcast("home_position", args)
        else:
            self._send_to(client, "home_position", args)
        return True

    def drain_outbox(self) -> None:
        """Forward what the model said since the last tick."""
        m = self.model
        if not m.outbox:
            return
        events, m.outbox = m.outbox, []
        if not self.clients or self.link_down:
            return
        for ev in events:
            kind = ev[0]
            if kind == "text":
                self.statustext(ev[1], ev[2])
            elif kind == "reached":
                self.broadcast("mission_item_reached", (ev[1],))
            elif kind == "current":
                self.send_mission_current()
            elif kind == "home":
                self.send_home()
            elif kind == "mode":
                self.broadcast("heartbeat", self._heartbeat_args())
            elif kind == "servo":
                self.send_servo_outputs()

    # ---------------------------------------------------------------- receiving
    def _for_us(self, msg: Any) -> bool:
        ts = getattr(msg, "target_system", 0)
        return ts in (0, self.sysid)

    def _handle(self, client: Client, msg: Any) -> None:
        t = msg.get_type()
        if t in ("HEARTBEAT", "BAD_DATA"):
            return
        if not self._for_us(msg):
            return
        handler = _HANDLERS.get(t)
        if handler is not None:
            handler(self, client, msg)

    def _ack(self, client: Client, msg: Any, command: int, result: int) -> None:
        self._send_to(client, "command_ack", (command, result, 0, 0, msg.get_srcSystem(),
                                              msg.get_srcComponent()))

    def _on_set_mode(self, client: Client, msg: Any) -> None:
        result = self.model.set_mode(int(msg.custom_mode))
        # ArduPilot acks SET_MODE with COMMAND_ACK whose command field is SET_MODE's message id (11)
        self._ack(client, msg, 11, result)
        self.drain_outbox()

    def _on_command(self, client: Client, msg: Any) -> None:
        is_int = msg.get_type() == "COMMAND_INT"
        if is_int:
            lat, lon = msg.x / 1e7, msg.y / 1e7
        else:
            lat, lon = msg.param5, msg.param6
        p = (msg.param1, msg.param2, msg.param3, msg.param4, lat, lon, msg.z if is_int else msg.param7)
        result = self._command(client, msg.command, p)
        self._ack(client, msg, msg.command, result)
        self.drain_outbox()

    def _command(self, client: Client, cmd: int, p: tuple) -> int:
        m = self.model
        if cmd == 400:  # COMPONENT_ARM_DISARM
            force = int(p[1]) == FORCE_MAGIC
            return m.arm(force) if p[0] >= 0.5 else m.disarm(force)
        if cmd == 176:  # DO_SET_MODE
            return m.set_mode(int(p[1]))
        if cmd == 22:  # NAV_TAKEOFF
            return m.takeoff(float(p[6]))
        if cmd == 300:  # MISSION_START
            return m.mission_start(int(p[0]), int(p[1]))
        if cmd == 211:  # DO_GRIPPER
            return m.gripper(int(p[1]))
        if cmd == 183:  # DO_SET_SERVO
            return m.set_servo(int(p[0]), int(p[1]))
        if cmd == 246:  # PREFLIGHT_REBOOT_SHUTDOWN: param1 1 = reboot the autopilot
            if int(p[0]) != 1 or m.armed:
                return FAILED  # GCS_MAVLINK refuses to reboot an armed vehicle
            asyncio.get_running_loop().call_later(0.2, self.reboot)
            return ACCEPTED
        if cmd == 20:  # NAV_RETURN_TO_LAUNCH
            return m.return_to_launch()
        if cmd == 21:  # NAV_LAND
            return m.land()
        if cmd == 207:  # DO_FENCE_ENABLE
            return m.fence_enable(int(p[0]))
        if cmd == 178:  # DO_CHANGE_SPEED
            return m.change_speed(int(p[0]), float(p[1]))
        if cmd == 192:  # DO_REPOSITION
            if not (p[4] or p[5]):
                return FAILED
            return m.goto(p[4], p[5], float(p[6]) if p[6] == p[6] else None)
        if cmd == 193:  # DO_PAUSE_CONTINUE
            return m.pause_continue(resume=p[0] >= 0.5)
        if cmd == 179:  # DO_SET_HOME
            return m.set_home(p[0] >= 0.5, p[4], p[5])
        if cmd == 224:  # DO_SET_MISSION_CURRENT
            return ACCEPTED if m.set_mission_current(int(p[0])) else FAILED
        if cmd == 410:  # GET_HOME_POSITION
            return ACCEPTED if self.send_home(client) else FAILED
        if cmd == 511:  # SET_MESSAGE_INTERVAL: param1 message id, param2 interval in us
            return self.streams.set_message_interval(int(p[0]), _int32(p[1]))
        if cmd == 512:  # REQUEST_MESSAGE
            return ACCEPTED if self._send_requested(client, int(p[0])) else FAILED
        if cmd == 520:  # REQUEST_AUTOPILOT_CAPABILITIES
            self._send_version(client)
            return ACCEPTED
        return UNSUPPORTED

    def reboot(self) -> None:
        """The autopilot restarts: every connection drops (SITL's TCP port closes with the process)
        and the model boots again from its stored parameters."""
        self.drop_link(0.5)
        self.model.reboot()
        self.streams.reset()  # message intervals live in RAM: the SRn_* defaults again
        self.signing.load(time.monotonic())  # the stored key again, clock one minute on
        self._signing_clock_from_gps = False
        self._apply_signing()

    def _send_version(self, client: Client) -> None:
        self._send_to(client, "autopilot_version", (
            CAPABILITIES, FLIGHT_SW_VERSION, 0, 0, 0, [0] * 8, [0] * 8, [0] * 8, 0x1209, 0x5740,
            0, [0] * 18))

    def _send_requested(self, client: Client, msg_id: int) -> bool:
        if msg_id == 242:
            return self.send_home(client)
        if msg_id == 148:
            self._send_version(client)
            return True
        sender = _STREAM_SENDERS.get(msg_id)
        if sender is None:
            return False
        sender(self)
        return True

    def _on_param_set(self, client: Client, msg: Any) -> None:
        name = _param_name(msg.param_id)
        if self.model.set_param(name, msg.param_value):
            self._send_param(None, name)
            if name == "SYSID_THISMAV":  # takes effect at once (ArduPilot needs a reboot)
                self.sysid = int(msg.param_value)
                for c in self.clients:
                    c.mav.srcSystem = self.sysid

    def _on_param_read(self, client: Client, msg: Any) -> None:
        names = self.model.param_names()
        name = _param_name(msg.param_id)
        if msg.param_index >= 0 and not name:
            if msg.param_index < len(names):
                self._send_param(client, names[msg.param_index])
            return
        if self.model.get_param(name) is not None:
            self._send_param(client, name)

    def _on_param_list(self, client: Client, msg: Any) -> None:
        for name in self.model.param_names():
            self._send_param(client, name)

    def _send_param(self, client: Client | None, name: str) -> None:
        names = self.model.param_names()
        value = self.model.get_param(name)
        index = names.index(name) if name in names else 65535
        args = (name.encode(), float(value), MAV_PARAM_TYPE_REAL32, len(names), index)
        if client is None:
            self.broadcast("param_value", args)
        else:
            self._send_to(client, "param_value", args)

    def _on_mission_set_current(self, client: Client, msg: Any) -> None:
        self.model.set_mission_current(int(msg.seq))
        self.drain_outbox()
        self.send_mission_current()

    def _on_position_target(self, client: Client, msg: Any) -> None:
        if msg.lat_int or msg.lon_int:
            self.model.goto(msg.lat_int / 1e7, msg.lon_int / 1e7, msg.alt)


def _int32(value: float) -> int:
    """A COMMAND_LONG float parameter as ArduPilot's (int32_t) cast sees it (NaN: 0)."""
    if value != value:
        return 0
    return int(max(-2**31, min(2**31 - 1, value)))


def _param_name(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode(errors="ignore")
    return raw.rstrip("\x00").strip()


_HANDLERS = {
    "SET_MODE": VehicleLink._on_set_mode,
    "COMMAND_LONG": VehicleLink._on_command,
    "COMMAND_INT": VehicleLink._on_command,
    "MISSION_COUNT": lambda s, c, m: s.mission.handle_count(c, m),
    "MISSION_ITEM": lambda s, c, m: s.mission.handle_item(c, m),
    "MISSION_ITEM_INT": lambda s, c, m: s.mission.handle_item(c, m),
    "MISSION_REQUEST_LIST": lambda s, c, m: s.mission.handle_request_list(c, m),
    "MISSION_REQUEST_INT": lambda s, c, m: s.mission.handle_request(c, m),
    "MISSION_REQUEST": lambda s, c, m: s.mission.handle_request(c, m),
    "MISSION_CLEAR_ALL": lambda s, c, m: s.mission.handle_clear_all(c, m),
    "MISSION_SET_CURRENT": VehicleLink._on_mission_set_current,
    "PARAM_SET": VehicleLink._on_param_set,
    "PARAM_REQUEST_READ": VehicleLink._on_param_read,
    "PARAM_REQUEST_LIST": VehicleLink._on_param_list,
    "SET_POSITION_TARGET_GLOBAL_INT": VehicleLink._on_position_target,
    "SETUP_SIGNING": VehicleLink._on_setup_signing,
    "REQUEST_DATA_STREAM": lambda s, c, m: s.streams.request_data_stream(
        int(m.req_stream_id), int(m.req_message_rate), int(m.start_stop)),
}

#: message id -> what sends it: the streamed telemetry, also answered to REQUEST_MESSAGE
_STREAM_SENDERS = {
    0: VehicleLink.send_heartbeat,
    1: VehicleLink.send_sys_status,
    24: VehicleLink.send_gps_raw,
    30: VehicleLink.send_attitude,
    33: VehicleLink.send_global_position,
    36: VehicleLink.send_servo_outputs,
    42: VehicleLink.send_mission_current,
    62: VehicleLink.send_nav_controller,
    74: VehicleLink.send_vfr_hud,
    147: VehicleLink.send_battery_status,
    162: VehicleLink.send_fence_status,
    193: VehicleLink.send_ekf_status,
}
