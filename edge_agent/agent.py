"""The edge agent: wires the MAVLink link, the MQTT link, the outbox and the mission state
machine together for one vehicle.

Many agents can share one asyncio loop (the scale benchmark runs hundreds per process): there is
no global state and no polling loop beyond a per-agent ticker at the telemetry rate.

Mission idempotency (by ``mission_id``, persisted in the outbox database, so it survives
restarts): the same mission id with the same payload again (a QoS 1 redelivery, a retry by ground
control) is ignored silently -- the first copy's ``accepted``/``rejected`` already answers it; the
same id with a *different* payload is answered ``rejected`` reason ``duplicate``. Missions refused
as ``busy`` are not recorded (they were never taken), every other verdict is.

Signed messages (:mod:`edge_agent.inbound_auth`): missions and commands must be signed by a pinned
ground-control key (``gc_public_keys``; ``allow_unsigned`` is for tests and migrations only), and
every event this agent publishes is signed with its own key (``signing_key_path``, created 0600
beside the outbox on first start).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fleet_protocol import (
    Command,
    CommandAckEvent,
    Mission,
    ProtocolError,
    RejectedEvent,
    Status,
    Telemetry,
    VehicleState,
    VehicleType,
    encode,
    make_envelope,
    parse_message,
    topics,
)
from fleet_protocol.geo import LatLon

AGENT_VERSION = "0.1.0"  # not imported from edge_agent/__init__: a stale editable install maps it as a namespace
from edge_agent.geofence_check import check_mission
from edge_agent.inbound_auth import Decision, authenticate
from fleet_keys.keyfile import load_or_create
from fleet_protocol.signing import DEFAULT_SKEW_S, generate_key, sign_envelope, trust_set, verify_signature
from edge_agent.mavlink_link import MavlinkLink, mavlink
from edge_agent.mavlink_key import default_key_path as default_mavlink_key_path, load_or_create_key, read_key
from edge_agent.mission_state import ACTIVE, AIRBORNE, FINAL, Action, Disarm, Emit, MissionRun, SetMode, State
from edge_agent.mission_translation import MISSION_TYPE_FENCE, MISSION_TYPE_MISSION, translate_fence
from edge_agent.mqtt_link import MqttConfig, MqttLink
from edge_agent.outbox import Outbox
from edge_agent.release_setup import prepare_release

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def default_state_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    base = Path(state) / "lastmile-fleet"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        base = Path("var")
        base.mkdir(exist_ok=True)
    return base


def default_outbox_path(vehicle_id: str) -> str:
    return str(default_state_dir() / f"{vehicle_id}-outbox.db")


def mavlink_key_for(config: "AgentConfig") -> bytes | None:
    """The MAVLink signing key this agent uses (None: signing off): the given file, else the one
    beside the outbox, created on first start."""
    if not config.mavlink_signing:
        return None
    if config.mavlink_key_path:
        return read_key(config.mavlink_key_path)
    state_dir = Path(config.outbox_path).parent if config.outbox_path else default_state_dir()
    return load_or_create_key(default_mavlink_key_path(state_dir, config.vehicle_id))


@dataclass
class AgentConfig:
    vehicle_id: str
    mavlink_url: str
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    vehicle_type: VehicleType = VehicleType.drone
    max_payload_kg: float | None = 2.5
    battery_wh: float | None = None
    wh_per_km: float | None = None
    reserve_fraction: float = 0.2
    telemetry_hz: float = 2.0
    outbox_path: str | None = None
    handover_timeout_s: float | None = None   # overrides the mission's handover_timeout_s
    ready_timeout_s: float = 120.0            # waiting for GPS fix + EKF before arming
    arm_timeout_s: float = 30.0               # retrying ARM
    stream_hz: int = 4                        # legacy stream rate, for autopilots without SET_MESSAGE_INTERVAL
    # Release outputs. Default (empty): ArduPilot's gripper, which carries ONE parcel per trip
    # (once open it stays open), so a drone mission with more release stops is rejected
    # ``payload``. Declaring servo outputs (SERVOn with SERVOn_FUNCTION 0) gives one parcel per
    # servo: stop i is released by DO_SET_SERVO release_servos[i] servo_release_pwm, each servo
    # is set to servo_hold_pwm before take-off.
    release_servos: tuple[int, ...] = ()
    servo_release_pwm: int = 1100
    servo_hold_pwm: int = 1900
    reboot_for_gripper: bool = True           # reboot (disarmed) when the gripper does not answer
    # MAVLink 2 signing with the autopilot (edge_agent/mavlink_key.py): on by default, the key
    # from this file or generated beside the outbox; off for autopilots that cannot sign
    mavlink_signing: bool = True
    mavlink_key_path: str | None = None
    # Ed25519 message signing: ground control's public keys (PEM or base64 text; several during a rotation),
    # whether unsigned missions/commands are still taken (migration/tests only), this agent's
    # own key file (default: beside the outbox, "<outbox stem>.key")
    gc_public_keys: tuple[str, ...] = ()
    allow_unsigned: bool = False
    signing_key_path: str | None = None
    clock_skew_s: float = DEFAULT_SKEW_S

    @property
    def release_channels(self) -> int:
        """How many parcels this drone can release on one trip."""
        return len(self.release_servos) or 1


def default_key_path(outbox_path: str) -> str | None:
    """The agent's key file beside its outbox; ``None`` for an in-memory outbox (key in memory)."""
    return None if outbox_path == ":memory:" else str(Path(outbox_path).with_suffix(".key"))


def _digest(mission: Mission) -> str:
    return hashlib.sha256(mission.model_dump_json().encode()).hexdigest()


class Agent:
    """``Agent(AgentConfig(...))`` or ``Agent(vehicle_id=..., mavlink_url=..., mqtt_url=..., ...)``."""

    def __init__(self, config: AgentConfig | None = None, /, **kwargs: Any) -> None:
        if config is None:
            mqtt_keys = {"mqtt_url": "url", "mqtt_username": "username", "mqtt_password": "password",
                         "tls": "tls", "ca_cert": "ca_cert", "client_cert": "client_cert", "client_key": "client_key"}
            mq = {v: kwargs.pop(k) for k, v in mqtt_keys.items() if k in kwargs}
            if "vehicle_type" in kwargs:
                kwargs["vehicle_type"] = VehicleType(kwargs["vehicle_type"])
            config = AgentConfig(mqtt=MqttConfig(**mq), **kwargs)
        self.cfg = config
        self.vehicle_id = config.vehicle_id
        self.log = logging.getLogger(f"edge_agent.{self.vehicle_id}")
        self.kind = "copter" if config.vehicle_type is VehicleType.drone else "rover"
        outbox_path = config.outbox_path or default_outbox_path(self.vehicle_id)
        self.outbox = Outbox(outbox_path)
        key_path = config.signing_key_path or default_key_path(outbox_path)
        self.signing_key = load_or_create(key_path)[0] if key_path else generate_key()
        self.trusted = trust_set(config.gc_public_keys)
        if not self.trusted and not config.allow_unsigned:
            self.log.warning("no ground-control public key pinned: every mission and command will be refused")
        self.outbox.prune_nonces(time.time())
        self.mav = MavlinkLink(config.mavlink_url, kind=self.kind, on_message=self._on_mav,
                               stream_hz=config.stream_hz, telemetry_hz=config.telemetry_hz,
                               name=self.vehicle_id,
                               signing_key=mavlink_key_for(config))
        status = lambda s: encode(make_envelope("status", self.vehicle_id, Status(  # noqa: E731
            state=s, vehicle_type=config.vehicle_type, agent_version=AGENT_VERSION, max_payload_kg=config.max_payload_kg)))
        # the offline status is built when it is handed over (as the will at each connect, or
        # published at a clean stop): its ts is then, not the agent's start time
        self.mqtt = MqttLink(config.mqtt, self.vehicle_id, outbox=self.outbox, on_message=self._on_mqtt,
                             online_payload=status(VehicleState.online),
                             offline_payload=lambda: status(VehicleState.offline))
        self.run_state: MissionRun | None = None
        snap = self.outbox.active_snapshot()
        if snap is not None:
            try:
                self.run_state = MissionRun.restore(snap)
                self.log.info("resuming mission %s in state %s", self.run_state.mission_id, self.run_state.state_label)
            except Exception:
                self.log.exception("could not restore the saved mission state; dropping it")
                self.outbox.commit(snapshot=None)
        self._actions: asyncio.Queue[Action] | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._telemetry_seq = 0
        self._connects_seen = 0
        self._event_topic = topics.event(self.vehicle_id)
        self._telemetry_topic = topics.telemetry(self.vehicle_id)

    # ---- lifecycle -----------------------------------------------------------------------------
    async def run(self) -> None:
        self._actions = asyncio.Queue()
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        if self.run_state is not None:
            self.run_state.handover_timeout_s = self.cfg.handover_timeout_s or self.run_state.handover_timeout_s
        self._tasks = [asyncio.create_task(c, name=f"{self.vehicle_id}:{n}") for n, c in (
            ("mavlink", self.mav.run()), ("mqtt", self.mqtt.run()),
            ("ticker", self._ticker()), ("actions", self._action_worker()))]
        r = self.run_state
        if r is not None and r.state in (State.validating, State.uploading, State.arming, State.starting):
            self._tasks.append(asyncio.create_task(self._resume_preflight(r)))
        for t in self._tasks:
            t.add_done_callback(self._task_done)
        try:
            await self._stop.wait()
        finally:
            with contextlib.suppress(Exception):  # incl. the timeout: shutting down regardless
                await asyncio.wait_for(self.mqtt.close(), 3)
            self.mav.stop()
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self.outbox.close()

    def stop(self) -> None:
        """Ask :meth:`run` to finish (publishes the offline status, closes the links)."""
        self._stop_requested = True
        if self._stop is not None:
            self._stop.set()

    def _task_done(self, t: asyncio.Task[Any]) -> None:
        if not t.cancelled() and t.exception() is not None:
            self.log.error("task %s died: %r", t.get_name(), t.exception(), exc_info=t.exception())

    # ---- emitting ------------------------------------------------------------------------------
    def _apply(self, run: MissionRun | None, actions: list[Action], *, before: str | None = None,
               mission: tuple[str, str] | None = None, command_id: str | None = None, force: bool = False,
               nonce: tuple[str, str, float] | None = None) -> None:
        """Persist the events of ``actions`` with the run's snapshot in one transaction, then queue
        the autopilot actions and wake the publisher."""
        events = [a.body for a in actions if isinstance(a, Emit)]
        changed = run is not None and before is not None and run.state_label != before
        if not (events or force or changed or mission or command_id or nonce
                or any(not isinstance(a, Emit) for a in actions)):
            return
        rows = []
        if events:
            seq = self.outbox.next_seq(len(events))
            for k, body in enumerate(events):
                env = make_envelope("event", self.vehicle_id, body, seq=seq + k, id_=uuid.uuid4())
                rows.append((str(env.id), self._event_topic, sign_envelope(env, self.signing_key)))
                self.log.info("event %s %s", body.kind, body.model_dump_json(exclude_none=True)[:300])
        snapshot: Any = None
        outcome = None
        if run is not None and run is self.run_state:
            if run.state in FINAL:
                outcome = (run.mission_id, run.state.value)
                snapshot = None
            else:
                snapshot = run.snapshot()
            self.outbox.commit(rows, snapshot=snapshot, mission=mission, outcome=outcome, command_id=command_id,
                               nonce=nonce)
        else:
            self.outbox.commit(rows, mission=mission, command_id=command_id, nonce=nonce)
        if rows:
            self.mqtt.kick()
        for a in actions:
            if not isinstance(a, Emit) and self._actions is not None:
                self._actions.put_nowait(a)

    def _emit_loose(self, body: Any, **kw: Any) -> None:
        self._apply(None, [Emit(body)], **kw)

    async def _action_worker(self) -> None:
        assert self._actions is not None
        while True:
            a = await self._actions.get()
            try:
                if isinstance(a, SetMode):
                    if not await self.mav.set_mode(a.mode, timeout=6.0):
                        self.log.warning("autopilot did not switch to %s (still %s)", a.mode, self.mav.mode)
                elif isinstance(a, Disarm):
                    if not await self.mav.disarm(timeout=6.0):
                        self.log.warning("autopilot did not disarm")
            except Exception:
                self.log.exception("autopilot action %r failed", a)

    # ---- autopilot observations ------------------------------------------------------------------
    def _on_mav(self, msg: Any) -> None:
        run = self.run_state
        if run is None or run.state in FINAL:
            return
        t = msg.get_type()
        now = time.time()
        before = run.state_label
        if self.mav.connects != self._connects_seen:
            if self._connects_seen:  # a reconnect, not the first connect of this process
                run.on_link_gap()
            self._connects_seen = self.mav.connects
        if t == "HEARTBEAT":
            if msg.autopilot == mavlink.MAV_AUTOPILOT_INVALID or msg.type == mavlink.MAV_TYPE_GCS:
                return
            acts = run.on_heartbeat(self.mav.mode, self.mav.state.armed, now)
        elif t == "GLOBAL_POSITION_INT":
            s = self.mav.state
            acts = run.on_position(s.lat, s.lon, s.alt_m, s.ground_speed) if (msg.lat or msg.lon) else []
        elif t == "MISSION_CURRENT":
            acts = run.on_mission_current(msg.seq, now) if run.state in AIRBORNE else []
        elif t == "MISSION_ITEM_REACHED":
            acts = run.on_item_reached(msg.seq, now)
        elif t == "STATUSTEXT":
            acts = run.on_statustext(self.mav.state.texts[-1][2], now)
        elif t == "SERVO_OUTPUT_RAW":
            acts = run.on_servo_output(self.mav.state.servo_pwm, now) if run.state in AIRBORNE else []
        else:
            return
        self._apply(run, acts, before=before)

    async def _ticker(self) -> None:
        """State-machine ticks (>= 2 Hz) and telemetry on a fixed time grid: sleeping "period"
        after each send would drift, and a wake-up a hair early would skip a sample."""
        period = 1.0 / max(0.1, self.cfg.telemetry_hz)
        per_sample = max(1, math.ceil(period / 0.5 - 1e-9))
        tick = period / per_sample
        loop = asyncio.get_running_loop()
        next_at = loop.time() + random.random() * tick  # spread many agents over the period
        n = 0
        while True:
            next_at += tick
            delay = next_at - loop.time()
            if delay < -5 * tick:  # far behind (overloaded): skip, don't burst
                next_at = loop.time()
                delay = 0.0
            await asyncio.sleep(max(0.0, delay))
            run = self.run_state
            if run is not None and run.state not in FINAL:
                before = run.state_label
                self._apply(run, run.tick(time.time()), before=before)
            n += 1
            if n % per_sample == 0:
                await self._send_telemetry()

    def telemetry(self) -> Telemetry:
        s = self.mav.state
        run = self.run_state
        active = run is not None and run.state not in FINAL
        return Telemetry(
            position=LatLon(lat=s.lat, lon=s.lon, alt_m=max(-100.0, min(10_000.0, round(s.alt_m, 2)))),
            heading_deg=round(s.heading_deg % 360, 1), ground_speed_mps=round(max(0.0, s.ground_speed), 2),
            battery_pct=max(0.0, min(100.0, s.battery_pct)), battery_v=s.battery_v, mode=self.mav.mode[:32],
            armed=s.armed, gps_fix=max(0, min(8, s.gps_fix)),
            agent_state=run.state_label if active else "idle",  # type: ignore[union-attr]
            mission_id=run.mission_id if active else None,  # type: ignore[union-attr]
            mission_seq=s.mission_seq if active else None,
        )

    async def _send_telemetry(self) -> None:
        if not self.mqtt.connected.is_set() or not self.mav.state.connected:
            return
        self._telemetry_seq += 1
        env = make_envelope("telemetry", self.vehicle_id, self.telemetry(), seq=self._telemetry_seq)
        await self.mqtt.publish_telemetry(self._telemetry_topic, encode(env))

    # ---- inbound MQTT ------------------------------------------------------------------------------
    async def _on_mqtt(self, topic: str, payload: bytes) -> None:
        parsed = topics.parse(topic)
        if parsed is None or parsed.vehicle_id != self.vehicle_id or parsed.channel not in ("mission", "command"):
            self.log.warning("ignoring a message on unexpected topic %s", topic)
            return
        if parsed.channel == "mission":
            self._on_mission_message(topic, payload)
        else:
            self._on_command_message(topic, payload)

    def _raw_field(self, payload: bytes, name: str) -> str | None:
        """``body[name]`` of a payload that failed validation, but only if the envelope is ours
        and in our protocol version: answering a message meant for another vehicle or written
        in an unknown version would be guessing."""
        try:
            raw = json.loads(payload)
            if raw.get("v") != 1 or raw.get("vehicle_id") != self.vehicle_id:
                return None
            v = raw.get("body", {}).get(name)
        except Exception:
            return None
        return v if isinstance(v, str) and _ID_RE.match(v) else None

    def _on_mission_message(self, topic: str, payload: bytes) -> None:
        try:
            env = parse_message(topic, payload, "mission")
        except ProtocolError as exc:
            mid = self._raw_field(payload, "mission_id")
            self.log.warning("rejecting a mission message (mission_id=%s): %s", mid, exc.reason)
            if mid is not None and self.outbox.mission_digest(mid) is None:
                if self._genuine(payload):
                    self._emit_loose(RejectedEvent(mission_id=mid, reason="schema", detail=exc.reason[:2000]))
                else:   # not ground control's: its id is not believed (see inbound_auth)
                    self._emit_loose(RejectedEvent(reason="schema", detail=f"mission {mid}: {exc.reason}"[:2000]))
            return
        mission: Mission = env.body
        digest = _digest(mission)
        seen = self.outbox.mission_digest(mission.mission_id)
        auth = self._authenticate(payload, env, current=self._is_current(mission.mission_id))
        if auth.verdict == "redelivery":
            self.log.info("mission %s: redelivered copy of message %s ignored", mission.mission_id, env.id)
            return
        if auth.verdict == "refuse":
            if auth.reason == "expired" and seen == digest:
                self.log.info("mission %s already taken; ignoring a stale copy", mission.mission_id)
                return
            self._refuse("mission", mission.mission_id, auth)
            return
        nonce = auth.nonce
        if seen == digest:
            self.log.info("mission %s already taken; ignoring the duplicate copy", mission.mission_id)
            self._apply(None, [], nonce=nonce)
            return
        if seen is not None:
            self._emit_loose(RejectedEvent(mission_id=mission.mission_id, reason="duplicate",
                                           detail="this mission_id was already used for a different mission"),
                             nonce=nonce)
            return
        current = self.run_state
        if current is not None and current.state in ACTIVE:
            self._emit_loose(RejectedEvent(mission_id=mission.mission_id, reason="busy",
                                           detail=f"flying mission {current.mission_id} ({current.state_label})"),
                             nonce=nonce)
            return
        run = MissionRun(mission, handover_timeout_s=self.cfg.handover_timeout_s)
        if mission.is_expired(datetime.now(timezone.utc)):
            self._emit_loose(RejectedEvent(mission_id=mission.mission_id, reason="expired",
                                           detail=f"expired at {mission.expires_at}"), mission=(mission.mission_id, digest),
                             nonce=nonce)
            return
        s = self.mav.state
        violations = check_mission(
            mission, max_payload_kg=self.cfg.max_payload_kg, battery_wh=self.cfg.battery_wh,
            wh_per_km=self.cfg.wh_per_km, reserve_fraction=self.cfg.reserve_fraction,
            battery_pct=s.battery_pct if s.connected and s.battery_pct > 0 else None,
            vehicle_type=self.cfg.vehicle_type, release_channels=self.cfg.release_channels)
        if violations:
            detail = "; ".join(v.message for v in violations)
            self.log.warning("rejecting mission %s: %s", mission.mission_id, detail)
            self._emit_loose(RejectedEvent(mission_id=mission.mission_id, reason=violations[0].code, detail=detail[:2000]),
                             mission=(mission.mission_id, digest), nonce=nonce)
            return
        self.run_state = run
        self._apply(run, run.accept(), mission=(mission.mission_id, digest), force=True, nonce=nonce)
        task = asyncio.create_task(self._fly(run), name=f"{self.vehicle_id}:fly")
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _on_command_message(self, topic: str, payload: bytes) -> None:
        try:
            env = parse_message(topic, payload, "command")
        except ProtocolError as exc:
            cid = self._raw_field(payload, "command_id")
            self.log.warning("rejecting a command message (command_id=%s): %s", cid, exc.reason)
            if cid is not None and not self.outbox.command_seen(cid):
                if self._genuine(payload):
                    self._emit_loose(CommandAckEvent(command_id=cid, action=str(self._raw_field(payload, "action") or "unknown"),
                                                     accepted=False, detail=f"schema: {exc.reason}"[:2000]), command_id=cid)
                else:
                    self._emit_loose(RejectedEvent(reason="schema", detail=f"command {cid}: {exc.reason}"[:2000]))
            return
        cmd: Command = env.body
        auth = self._authenticate(payload, env, current=cmd.mission_id is not None and self._is_current(cmd.mission_id))
        if auth.verdict == "redelivery":
            self.log.info("command %s: redelivered copy of message %s ignored", cmd.command_id, env.id)
            return
        if auth.verdict == "refuse":
            if auth.trusted_ids and not self.outbox.command_seen(cmd.command_id):
                self._emit_loose(CommandAckEvent(command_id=cmd.command_id, action=cmd.action.value, accepted=False,
                                                 detail=f"{auth.reason}: {auth.detail}"[:2000]),
                                 command_id=cmd.command_id)
                self.log.warning("refusing command %s: %s: %s", cmd.command_id, auth.reason, auth.detail)
            elif not auth.trusted_ids:
                self._refuse("command", cmd.command_id, auth)
            else:
                self.log.info("command %s already handled; ignoring a stale copy", cmd.command_id)
            return
        nonce = auth.nonce
        if self.outbox.command_seen(cmd.command_id):
            self.log.info("command %s already handled; ignoring the redelivery", cmd.command_id)
            self._apply(None, [], nonce=nonce)
            return
        run = self.run_state
        if run is None or run.state in FINAL:
            self._emit_loose(CommandAckEvent(command_id=cmd.command_id, action=cmd.action.value, accepted=False,
                                             detail="no active mission"), command_id=cmd.command_id, nonce=nonce)
            return
        before = run.state_label
        self._apply(run, run.on_command(cmd, time.time()), before=before, command_id=cmd.command_id, nonce=nonce)

    # ---- signatures --------------------------------------------------------------------------------
    def _is_current(self, mission_id: str) -> bool:
        run = self.run_state
        return run is not None and run.mission_id == mission_id and run.state not in FINAL

    def _authenticate(self, payload: bytes, env: Any, *, current: bool) -> Decision:
        raw = json.loads(payload)   # parse_message accepted it: a JSON object
        self.outbox.prune_nonces(time.time())   # expired messages are refused by their time anyway
        return authenticate(raw, env, self.trusted, datetime.now(timezone.utc), skew_s=self.cfg.clock_skew_s,
                            allow_unsigned=self.cfg.allow_unsigned, seen_digest=self.outbox.nonce_digest(str(env.id)),
                            current=current)

    def _genuine(self, payload: bytes) -> bool:
        """Signed by a pinned key (or unsigned messages are allowed): for a message that failed
        validation, whether its ids may be named in the answer."""
        if self.cfg.allow_unsigned:
            return True
        try:
            raw = json.loads(payload)
        except ValueError:
            return False
        return isinstance(raw, dict) and verify_signature(raw, self.trusted).ok

    def _refuse(self, what: str, claimed_id: str, auth: Decision) -> None:
        """A ``rejected`` event for a mission or command not taken. Its mission id is given only
        when the message is genuine (see :mod:`edge_agent.inbound_auth`)."""
        self.log.warning("refusing a %s message (%s %s): %s: %s", what, what, claimed_id, auth.reason, auth.detail)
        mid = claimed_id if what == "mission" and auth.trusted_ids else None
        self._emit_loose(RejectedEvent(mission_id=mid, reason=auth.reason,
                                       detail=f"{what} {claimed_id}: {auth.detail}"[:2000]))

    # ---- flying ------------------------------------------------------------------------------------
    async def _resume_preflight(self, run: MissionRun) -> None:
        if not await self.mav.wait_connected(self.cfg.ready_timeout_s):
            return
        await asyncio.sleep(0.5)  # let a few heartbeats in
        if self.mav.state.armed:
            self._apply(run, run.started(), before=run.state_label)
        else:
            run.state = State.uploading
            await self._fly(run)

    async def _upload(self, items: Any, mission_type: int, attempts: int = 3) -> str | None:
        """The whole transfer again if one fails (cancelled by the autopilot, no answers)."""
        err = None
        for attempt in range(attempts):
            err = await self.mav.upload(items, mission_type)
            if err is None:
                return None
            self.log.warning("upload (type %d) attempt %d failed: %s", mission_type, attempt + 1, err)
            await asyncio.sleep(0.5 + random.random())
        return err

    async def _fly(self, run: MissionRun) -> None:
        mav = self.mav

        def persist() -> None:
            self._apply(run, [], force=True)

        def give_up(reason: str, detail: str) -> None:
            self.log.warning("mission %s: %s: %s", run.mission_id, reason, detail)
            self._apply(run, run.fail(reason, detail))

        if not await mav.wait_connected(self.cfg.ready_timeout_s):
            return give_up("upload", "no heartbeat from the autopilot")
        if mav.state.armed:
            return give_up("busy", "the vehicle is already armed")
        if run.mission.vehicle_type is VehicleType.drone:
            outputs, why = await prepare_release(mav, self.cfg.release_servos, self.cfg.servo_release_pwm,
                                                 self.cfg.servo_hold_pwm, reboot=self.cfg.reboot_for_gripper,
                                                 log=self.log)
            if outputs is None:
                return give_up("autopilot", why)
            run.set_release_outputs(outputs)
            persist()
            # going back to AUTO after a hold must resume the current item, not restart the mission
            await mav.set_param("MIS_RESTART", 0)
        fence = translate_fence(run.mission.geofence, run.mission.vehicle_type)
        err = await self._upload(fence.items, MISSION_TYPE_FENCE)
        if err:
            return give_up("upload", f"fence: {err}")
        for name, value in (*fence.params, ("FENCE_ENABLE", 1)):
            if not await mav.set_param(name, value):
                self.log.warning("autopilot did not confirm %s=%s", name, value)
        err = await self._upload(run.tm.items, MISSION_TYPE_MISSION)
        if err:
            return give_up("upload", f"mission: {err}")
        run.state = State.arming
        persist()
        reason = await mav.wait_ready(self.cfg.ready_timeout_s)
        if reason is not None:
            return give_up("prearm", f"not ready to arm: {reason}")
        if self.kind == "copter":
            if not await mav.set_mode("GUIDED"):
                return give_up("prearm", f"could not switch to GUIDED (mode {mav.mode})")
        elif mav.mode != "HOLD" and not await mav.set_mode("HOLD"):
            self.log.warning("rover not in HOLD before arming (mode %s)", mav.mode)
        ok, detail = await mav.arm(self.cfg.arm_timeout_s)
        if not ok:
            return give_up("prearm", detail)
        run.state = State.starting
        persist()
        if not await mav.set_mode("AUTO"):
            await mav.disarm()
            return give_up("prearm", f"could not switch to AUTO (mode {mav.mode})")
        if self.kind == "copter":
            res = await mav.command(mavlink.MAV_CMD_MISSION_START, 0, 0)
            if res not in (None, mavlink.MAV_RESULT_ACCEPTED):
                self.log.warning("MISSION_START answered %s", res)
        run.last_mode = mav.mode
        self._apply(run, run.started(), before=run.state_label)
