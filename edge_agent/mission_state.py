"""The mission state machine (pure: no I/O, no clock of its own, no asyncio).

Inputs are autopilot observations (``on_heartbeat``, ``on_mission_current``, ``on_item_reached``,
``on_position``, ``on_statustext``, ``on_gripper_ack``), time (``tick(now)``) and operator commands
(``on_command``). Outputs are :class:`Action` lists: set a flight mode, disarm, emit an event.
The agent executes the actions, persisting emitted events together with :meth:`MissionRun.snapshot`
in one transaction, so after a restart :meth:`MissionRun.restore` continues where it left off and
no logical event (a ``leg_reached`` for a leg, a ``delivered`` for a parcel, ``returned``) is ever
produced twice.

States::

    idle -> validating -> uploading -> arming -> starting -> in_flight <-> at_dropoff
         -> returning -> completed            (+ holding, aborted, failed, rejected)

``in_flight`` carries the leg index being flown; ``at_dropoff`` a phase: ``releasing`` (copter,
between reaching drop altitude and the gripper item having run) or ``awaiting_handover`` (rover
held at the drop-off until ``handover_confirmed`` or the handover timeout).

Robustness: MISSION_ITEM_REACHED can be lost (link drop, agent restart); every decision that
hangs on "item N reached" is also taken when MISSION_CURRENT shows the autopilot went past N, so
the two observations are idempotent and together catch up after a gap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from fleet_protocol.command import Command, CommandAction
from fleet_protocol.event import (
    AcceptedEvent,
    CommandAckEvent,
    DeliveredEvent,
    DeliveryFailedEvent,
    FailsafeEvent,
    LegReachedEvent,
    ProofOfDelivery,
    RejectedEvent,
    ReturnedEvent,
    StartedEvent,
)
from fleet_protocol.geo import LatLon
from fleet_protocol.mission import Mission, StopAction, VehicleType
from edge_agent import failsafe_reason, release_evidence
from edge_agent.geofence_check import haversine_m
from edge_agent.mission_translation import TranslatedMission, translate_mission
from edge_agent.release_evidence import ReleaseOutput


class State(StrEnum):
    idle = "idle"
    validating = "validating"
    uploading = "uploading"
    arming = "arming"
    starting = "starting"
    in_flight = "in_flight"
    at_dropoff = "at_dropoff"
    holding = "holding"
    returning = "returning"
    completed = "completed"
    aborted = "aborted"
    failed = "failed"
    rejected = "rejected"


ACTIVE = {State.validating, State.uploading, State.arming, State.starting, State.in_flight,
          State.at_dropoff, State.holding, State.returning}
AIRBORNE = {State.in_flight, State.at_dropoff, State.holding, State.returning}
FINAL = {State.completed, State.aborted, State.failed, State.rejected}


# ---- actions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SetMode:
    mode: str          # ArduPilot mode name: AUTO, RTL, LAND, LOITER, HOLD, ...


@dataclass(frozen=True)
class Disarm:
    pass


@dataclass(frozen=True)
class Emit:
    body: Any          # a fleet_protocol event model


Action = SetMode | Disarm | Emit

#: a copter holds in BRAKE: ArduCopter's LOITER follows the throttle stick, which sits at minimum
#: without a pilot, so a pilotless copter in LOITER descends, lands and disarms wherever it is;
#: BRAKE holds position and altitude with no RC input at all (ModeBrake), and going back to AUTO
#: resumes the mission at its current NAV item (AP_Mission::resume with MIS_RESTART=0)
COPTER_HOLD_MODE = "BRAKE"
#: a rover this close to home (m) and this slow (m/s) in RTL counts as back at the hub
ROVER_HOME_RADIUS_M = 4.0
ROVER_STOPPED_MPS = 0.3
#: copter landed within this distance of the hub: the last leg counts as reached
HUB_RADIUS_M = 30.0
#: a rover this close to a handover stop's drop-off is at the stop (the recipient can reach it)
HANDOVER_AT_STOP_M = 25.0


def _now_dt(now: float) -> datetime:
    return datetime.fromtimestamp(now, tz=timezone.utc)


@dataclass
class MissionRun:
    """One mission on one vehicle, from validation to the vehicle back at the hub."""

    mission: Mission
    state: State = State.validating
    phase: str = ""                          # at_dropoff: releasing | awaiting_handover
    leg: int = 0                             # the leg being flown (leg i ends at stop i)
    legs_reached: set[int] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    current_seq: int = 0
    wanted_mode: str = ""                    # the last mode we asked for
    last_mode: str = ""
    armed_seen: bool = False
    hold_prev: str = ""                      # state to go back to on resume
    handover_stop: int | None = None
    handover_deadline: float | None = None   # epoch seconds
    release_pending: dict[int, float] = field(default_factory=dict)  # stop -> when the release item ran
    release_position: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    release_at: dict[int, float] = field(default_factory=dict)       # stop -> when the evidence came
    release_evidence: set[int] = field(default_factory=set)          # stops whose release was seen
    release_unobserved: set[int] = field(default_factory=set)        # passed while the agent was down
    release_outputs: tuple[ReleaseOutput, ...] = ()                  # per stop (one gripper: one entry)
    last_pwm: dict[int, int] = field(default_factory=dict)           # SERVO_OUTPUT_RAW, by channel
    pending_failsafe: dict[str, Any] | None = None                   # unexpected mode, texts awaited
    watch_gap: bool = False                                          # restored: the next MISSION_CURRENT may skip items
    handover_gap: bool = False                                       # restored: handover stops may have been driven past
    position_fresh: bool = True                                      # False from a restore until the autopilot reports one
    aborted: bool = False
    returned_sent: bool = False
    parked: bool = False                     # rover: HOLD + disarm requested at the hub
    failsafe_count: int = 0
    position: tuple[float, float, float] | None = None
    ground_speed: float = 0.0
    recent_text: list[tuple[float, str]] = field(default_factory=list)
    handover_timeout_s: float | None = None  # overrides the mission's value when set
    tm: TranslatedMission = field(init=False)

    def __post_init__(self) -> None:
        self.tm = translate_mission(self.mission, self.release_outputs)

    def set_release_outputs(self, outputs: tuple[ReleaseOutput, ...]) -> None:
        """Where each parcel's release shows (found before take-off); the items follow them."""
        self.release_outputs = tuple(outputs)
        self.tm = translate_mission(self.mission, self.release_outputs)

    def _output(self, i: int) -> ReleaseOutput | None:
        outs = self.release_outputs
        if i < len(outs):
            return outs[i]
        return outs[0] if outs and outs[0].gripper else None

    # ---- helpers ---------------------------------------------------------------------------
    @property
    def is_drone(self) -> bool:
        return self.mission.vehicle_type is VehicleType.drone

    @property
    def mission_id(self) -> str:
        return self.mission.mission_id

    @property
    def state_label(self) -> str:
        if self.state is State.at_dropoff and self.phase:
            return self.phase
        return self.state.value

    @property
    def undelivered(self) -> list[str]:
        return [s.parcel_id for s in self.mission.stops if s.parcel_id not in self.delivered]

    def _pos(self) -> LatLon:
        if self.position is None:
            p = self.mission.hub.position
            return LatLon(lat=p.lat, lon=p.lon)
        lat, lon, alt = self.position
        return LatLon(lat=lat, lon=lon, alt_m=max(-100.0, min(10_000.0, round(alt, 2))))

    def _set_mode(self, mode: str) -> SetMode:
        self.wanted_mode = mode
        return SetMode(mode)

    def _stop_done(self, i: int) -> bool:
        pid = self.mission.stops[i].parcel_id
        return pid in self.delivered or pid in self.failed

    # ---- pre-flight phases (driven by the agent) -----------------------------------------
    def accept(self) -> list[Action]:
        self.state = State.uploading
        return [Emit(AcceptedEvent(mission_id=self.mission_id))]

    def reject(self, reason: str, detail: str = "") -> list[Action]:
        self.state = State.rejected
        return [Emit(RejectedEvent(mission_id=self.mission_id, reason=reason, detail=detail[:2000]))]

    def fail(self, reason: str, detail: str = "") -> list[Action]:
        """A failure after ``accepted`` (upload or arming gave up): reported as ``rejected``
        with the stage's reason code, since the vehicle never left."""
        return self.reject(reason, detail)

    def started(self, now: float | None = None) -> list[Action]:
        self.state = State.in_flight
        self.leg = 0
        self.wanted_mode = "AUTO"
        self.armed_seen = True
        return [Emit(StartedEvent(mission_id=self.mission_id))]

    # ---- observations ----------------------------------------------------------------------
    def on_position(self, lat: float, lon: float, alt_m: float, ground_speed: float = 0.0) -> list[Action]:
        if lat == 0 and lon == 0:
            return []  # ArduPilot reports 0,0 until it has a fix
        self.position = (lat, lon, alt_m)
        self.position_fresh = True
        self.ground_speed = ground_speed
        out: list[Action] = []
        if (not self.is_drone and self.state is State.returning and self.last_mode == "RTL"
                and ground_speed < ROVER_STOPPED_MPS):
            hub = self.mission.hub.position
            if haversine_m(lat, lon, hub.lat, hub.lon) < ROVER_HOME_RADIUS_M:
                out += self._rover_at_hub()
        return out

    def on_statustext(self, text: str, now: float) -> list[Action]:
        lookback = failsafe_reason.LOOKBACK_S
        self.recent_text = [(t, s) for t, s in self.recent_text if now - t < lookback][-9:] + [(now, text)]
        out: list[Action] = []
        if release_evidence.is_releasing_text(text):
            for i in self._releasing_stops():
                out_i = self._output(i)
                if out_i is None or out_i.gripper:
                    self._evidence(i, now)
            out += self._finalize_releases(now)
        if self.pending_failsafe is not None:
            self.pending_failsafe["after"].append(text)
            if failsafe_reason.explains_mode_change(text):
                out += self._emit_failsafe()
        return out

    def on_servo_output(self, pwm: list[int], now: float) -> list[Action]:
        """One SERVO_OUTPUT_RAW (servo1..servoN): a release output moving to its release PWM is
        the evidence for the stop whose release is under way."""
        if not self.is_drone:
            return []
        releasing = self._releasing_stops()
        for ch in {o.channel for o in self.release_outputs}:
            if not 1 <= ch <= len(pwm):
                continue
            before, value = self.last_pwm.get(ch), int(pwm[ch - 1])
            self.last_pwm[ch] = value
            for i in releasing:
                o = self._output(i)
                if o is not None and o.channel == ch and release_evidence.moved_to_release(o, before, value):
                    self._evidence(i, now)
        return self._finalize_releases(now)

    def on_link_gap(self) -> None:
        """The autopilot link was down (reconnected): what happened meanwhile was not observed,
        and a PWM seen before the gap is no baseline for a change after it."""
        self.watch_gap = True
        self.last_pwm.clear()

    def _releasing_stops(self) -> list[int]:
        """Stops whose release is under way: at drop altitude or just past the release item."""
        out = []
        for m in self.tm.stops:
            if m.drop_seq is None or self._stop_done(m.index):
                continue
            if m.drop_seq <= self.current_seq <= m.after_seq or m.index in self.release_pending:
                out.append(m.index)
        return out

    def _evidence(self, i: int, now: float) -> None:
        if i in self.release_evidence:
            return
        self.release_evidence.add(i)
        self.release_at[i] = now
        if self.position is not None:
            self.release_position[i] = self.position

    def on_heartbeat(self, mode: str, armed: bool, now: float) -> list[Action]:
        out: list[Action] = []
        prev_mode, self.last_mode = self.last_mode, mode
        if self.state not in AIRBORNE:
            return out
        if armed:
            self.armed_seen = True
            if mode != self.wanted_mode and mode != prev_mode and prev_mode:
                out += self._unexpected_mode(mode, now)
            return out
        if self.armed_seen:  # disarmed after flying: landed / stopped for good
            out += self._finish()
        return out

    def _unexpected_mode(self, mode: str, now: float) -> list[Action]:
        """The state follows the autopilot at once; the ``failsafe`` event waits for the texts
        that explain the change (ArduPilot sends them after the HEARTBEAT), see :meth:`tick`."""
        out = self._emit_failsafe()  # an earlier change still waiting for its texts
        self.failsafe_count += 1
        self.wanted_mode = mode
        self._cancel_handover()
        if mode in ("RTL", "LAND", "SMART_RTL"):
            self.state = State.returning
        else:
            self.hold_prev = self.state.value if self.state is not State.holding else self.hold_prev
            self.state = State.holding
        before = [s for t, s in self.recent_text if now - t < failsafe_reason.LOOKBACK_S]
        self.pending_failsafe = {"at": now, "mode": mode, "before": before, "after": []}
        return out

    def _emit_failsafe(self) -> list[Action]:
        p, self.pending_failsafe = self.pending_failsafe, None
        if p is None:
            return []
        reason = failsafe_reason.classify(p["after"], p["before"])
        return [Emit(FailsafeEvent(mission_id=self.mission_id, reason=reason, action=str(p["mode"]).lower(),
                                   detail="; ".join(p["before"] + p["after"])[-2000:]))]

    def on_mission_current(self, seq: int, now: float) -> list[Action]:
        out: list[Action] = []
        if seq < self.current_seq and self.state in AIRBORNE:
            return out  # ArduPilot reports 0 after a mission ends / on RTL: ignore going back
        self.current_seq = seq
        if self.state not in (State.in_flight, State.at_dropoff, State.holding):
            return out
        if self.handover_gap and not self.is_drone:
            if self.position is None or not self.position_fresh:
                return out   # where is the rover now? Judge the stops it passed on a fresh position
            self.handover_gap = False
            out += self._handovers_missed(seq)
        if self.watch_gap:
            # the first look after a restart: releases passed meanwhile were not observed
            self.watch_gap = False
            for m in self.tm.stops:
                if (self.is_drone and m.release_seq is not None and seq > m.release_seq
                        and not self._stop_done(m.index) and m.index not in self.release_pending
                        and m.index not in self.release_evidence):
                    self.release_unobserved.add(m.index)
                    self.release_pending[m.index] = now
        for m in self.tm.stops:
            if seq > m.arrival_seq:
                out += self._arrived(m.index, now)
            if self.is_drone and m.drop_seq is not None and seq > m.drop_seq and m.index not in self.release_position:
                self.release_position[m.index] = self.position or self._pos_tuple_of_target(m.index)
            if self.is_drone and seq >= m.after_seq and not self._stop_done(m.index):
                self.release_pending.setdefault(m.index, now)
        out += self._finalize_releases(now)
        if self.is_drone and seq >= self.tm.return_start_seq and all(self._stop_done(i) for i in range(len(self.mission.stops))):
            if self.state in (State.in_flight, State.at_dropoff):
                self.state = State.returning
                self.leg = len(self.mission.stops)
        return out

    def _handovers_missed(self, seq: int) -> list[Action]:
        """Restored after a gap: nobody held the rover at a handover stop, so AUTO drove on. A stop
        it passed and is not at now was not handed over: the parcel is still aboard, reported
        failed (it comes back with the rover, listed undelivered) instead of being handed over
        later wherever the rover happens to be."""
        out: list[Action] = []
        assert self.position is not None
        for m in self.tm.stops:
            stop = self.mission.stops[m.index]
            if seq <= m.arrival_seq or self._stop_done(m.index) or m.index in self.legs_reached:
                continue
            away = haversine_m(self.position[0], self.position[1], stop.drop_off.lat, stop.drop_off.lon)
            if away <= HANDOVER_AT_STOP_M:
                continue
            self.legs_reached.add(m.index)
            self.failed.add(stop.parcel_id)
            out.append(Emit(DeliveryFailedEvent(
                mission_id=self.mission_id, parcel_id=stop.parcel_id, reason="handover_missed",
                detail=f"drove past the drop-off while the agent was down ({away:.0f} m away now); "
                       "the parcel is still aboard")))
        return out

    def _pos_tuple_of_target(self, i: int) -> tuple[float, float, float]:
        t = self.mission.stops[i].drop_off
        return (t.lat, t.lon, self.mission.drop_alt_m)

    def on_item_reached(self, seq: int, now: float) -> list[Action]:
        out: list[Action] = []
        if self.state not in AIRBORNE:
            return out
        if seq > self.current_seq and seq < len(self.tm.items):
            self.current_seq = seq  # the autopilot is at least that far (MISSION_CURRENT may lag)
        m = self.tm.stop_for_arrival(seq)
        if m is not None:
            out += self._arrived(m.index, now)
        m = self.tm.stop_for_drop(seq)
        if m is not None and m.index not in self.release_position:
            self.release_position[m.index] = self.position or self._pos_tuple_of_target(m.index)
        if seq == self.tm.final_seq:
            out += self._hub_leg_reached()
            if not self.is_drone:
                out += self._rover_at_hub()
        return out

    def tick(self, now: float) -> list[Action]:
        out = self._finalize_releases(now)
        p = self.pending_failsafe
        if p is not None and now - p["at"] >= failsafe_reason.TEXT_WINDOW_S:
            out += self._emit_failsafe()
        if (self.state is State.at_dropoff and self.phase == "awaiting_handover"
                and self.handover_deadline is not None and now >= self.handover_deadline):
            i = self.handover_stop
            assert i is not None
            stop = self.mission.stops[i]
            self.failed.add(stop.parcel_id)
            self._cancel_handover()
            self.state, self.phase = State.in_flight, ""
            self.leg = i + 1
            out.append(Emit(DeliveryFailedEvent(mission_id=self.mission_id, parcel_id=stop.parcel_id,
                                                reason="handover_timeout",
                                                detail=f"no handover confirmation within {self._handover_timeout():g} s")))
            out.append(self._set_mode("AUTO"))
        return out

    # ---- internals ---------------------------------------------------------------------------
    def _handover_timeout(self) -> float:
        return self.handover_timeout_s if self.handover_timeout_s is not None else self.mission.handover_timeout_s

    def _arrived(self, i: int, now: float) -> list[Action]:
        out: list[Action] = []
        stop = self.mission.stops[i]
        if i not in self.legs_reached:
            self.legs_reached.add(i)
            out.append(Emit(LegReachedEvent(mission_id=self.mission_id, leg_index=i, parcel_id=stop.parcel_id,
                                            position=self._pos())))
            if self.state is State.holding:
                return out
            if stop.action is StopAction.handover and not self._stop_done(i):
                self.state, self.phase = State.at_dropoff, "awaiting_handover"
                self.handover_stop = i
                self.handover_deadline = now + self._handover_timeout()
                out.append(self._set_mode("HOLD"))
            elif stop.action is StopAction.release and not self._stop_done(i):
                self.state, self.phase = State.at_dropoff, "releasing"
                self.leg = i
        return out

    def _finalize_releases(self, now: float) -> list[Action]:
        out: list[Action] = []
        for i, since in sorted(self.release_pending.items()):
            decided = i in self.release_unobserved or i in self.release_evidence
            if not decided and now - since < release_evidence.EVIDENCE_WINDOW_S:
                continue
            del self.release_pending[i]
            if self._stop_done(i):
                continue
            stop = self.mission.stops[i]
            self.delivered.add(stop.parcel_id)
            out.append(Emit(self._release_outcome(i, since, now)))
            if self.state is State.at_dropoff:
                self.state, self.phase = State.in_flight, ""
            self.leg = max(self.leg, i + 1)
        return out

    def _release_outcome(self, i: int, since: float, now: float) -> DeliveredEvent:
        """The proof for stop i: unobserved, confirmed by evidence, or unconfirmed and why."""
        stop = self.mission.stops[i]
        if i in self.release_unobserved:
            return self._unobserved(stop)
        lat, lon, alt = self.release_position.get(i) or self._pos_tuple_of_target(i)
        if i in self.release_evidence:
            return self._delivered(stop, lat, lon, alt, self.release_at.get(i, now), confirmed=True)
        o = self._output(i)
        why = release_evidence.missing_evidence_reason(o, self.last_pwm.get(o.channel) if o else None)
        return self._delivered(stop, lat, lon, alt, min(now, since + release_evidence.EVIDENCE_WINDOW_S),
                               confirmed=False, reason=why)

    def _delivered(self, stop, lat: float, lon: float, alt: float, now: float, *, confirmed: bool,
                   code: str | None = None, reason: str | None = None) -> DeliveredEvent:
        return DeliveredEvent(
            mission_id=self.mission_id, parcel_id=stop.parcel_id,
            proof=ProofOfDelivery(
                method=stop.action,
                position=LatLon(lat=lat, lon=lon, alt_m=max(-100.0, min(10_000.0, round(alt, 2)))),
                target=stop.drop_off,
                distance_m=round(haversine_m(lat, lon, stop.drop_off.lat, stop.drop_off.lon), 2),
                delivered_at=_now_dt(now), confirmed=confirmed, handover_code=code, reason=reason,
            ),
        )

    def _unobserved(self, stop) -> DeliveredEvent:
        """The release item ran while the agent was down or blind: say so, and nothing else."""
        return DeliveredEvent(mission_id=self.mission_id, parcel_id=stop.parcel_id, proof=ProofOfDelivery(
            method=stop.action, target=stop.drop_off, confirmed=False, observed=False,
            reason="the release item had already run when the agent restarted or its autopilot link came "
                   "back: where and when the parcel left the vehicle was not observed"))

    def _cancel_handover(self) -> None:
        self.handover_stop = None
        self.handover_deadline = None
        if self.phase == "awaiting_handover":
            self.phase = ""

    def _hub_leg_reached(self) -> list[Action]:
        n = len(self.mission.stops)
        if n in self.legs_reached:
            return []
        self.legs_reached.add(n)
        return [Emit(LegReachedEvent(mission_id=self.mission_id, leg_index=n, parcel_id=None, position=self._pos()))]

    def _rover_at_hub(self) -> list[Action]:
        if self.returned_sent or self.parked:
            return []
        self.parked = True
        self.state, self.phase = State.returning, ""
        return [self._set_mode("HOLD"), Disarm()]

    def _finish(self) -> list[Action]:
        """Disarmed after flying. ``returned`` only at the hub; anywhere else the parcels are still
        aboard a vehicle standing in a field: a ``failsafe`` reason ``landed_away`` (robot:
        ``stopped_away``) with where it is and what it carries, and the run ends ``failed``."""
        out: list[Action] = self._emit_failsafe()
        if self.returned_sent:
            return out
        hub = self.mission.hub.position
        at_hub = (self.position is not None
                  and haversine_m(self.position[0], self.position[1], hub.lat, hub.lon) < HUB_RADIUS_M)
        if at_hub:
            out += self._hub_leg_reached()
        # releases still waiting for their evidence are decided now
        out += self._finalize_releases(float("inf"))
        self.returned_sent = True
        self.phase = ""
        if at_hub:
            out.append(Emit(ReturnedEvent(mission_id=self.mission_id, position=self._pos(), undelivered=self.undelivered)))
            self.state = State.aborted if self.aborted else State.completed
            return out
        where = ("position unknown" if self.position is None else
                 f"{haversine_m(self.position[0], self.position[1], hub.lat, hub.lon):.0f} m from the hub")
        aboard = self.undelivered
        out.append(Emit(FailsafeEvent(
            mission_id=self.mission_id, reason="landed_away" if self.is_drone else "stopped_away",
            action="land" if self.is_drone else "stop", position=self._pos() if self.position else None,
            aboard=aboard, detail=f"disarmed {where} (mode {self.last_mode or '?'}) with {len(aboard)} parcel(s) "
                                  f"aboard: {', '.join(aboard) or 'none'}; recover the vehicle")))
        self.state = State.aborted if self.aborted else State.failed
        return out

    # ---- commands --------------------------------------------------------------------------
    def on_command(self, cmd: Command, now: float) -> list[Action]:
        """Always returns exactly one ``command_ack`` among the actions."""
        ok, detail, acts = self._command(cmd, now)
        return acts + [Emit(CommandAckEvent(command_id=cmd.command_id, action=cmd.action.value, accepted=ok, detail=detail))]

    def _command(self, cmd: Command, now: float) -> tuple[bool, str, list[Action]]:
        if cmd.mission_id is not None and cmd.mission_id != self.mission_id:
            return False, f"mission {cmd.mission_id} is not the active mission ({self.mission_id})", []
        a = cmd.action
        if self.state not in AIRBORNE:
            return False, f"no mission in flight (state {self.state.value})", []
        if a is CommandAction.hold:
            if self.state is State.holding:
                return False, "already holding", []
            self.hold_prev = self.state.value
            self.state = State.holding
            return True, "", [self._set_mode(COPTER_HOLD_MODE if self.is_drone else "HOLD")]
        if a is CommandAction.resume:
            if self.state is not State.holding:
                return False, f"not holding (state {self.state_label})", []
            self.state = State(self.hold_prev or "in_flight")
            if self.state is State.at_dropoff and self.phase == "awaiting_handover":
                return True, "back to awaiting handover", [self._set_mode("HOLD")]
            if self.state is State.returning and self.wanted_mode in ("RTL", "LAND"):
                return True, "", [self._set_mode(self.wanted_mode)]
            return True, "", [self._set_mode("AUTO")]
        if a in (CommandAction.return_to_hub, CommandAction.abort):
            self._cancel_handover()
            if a is CommandAction.abort:
                self.aborted = True
            self.state, self.phase = State.returning, ""
            return True, "", [self._set_mode("RTL")]
        if a is CommandAction.land_now:
            self._cancel_handover()
            if self.is_drone:
                self.state, self.phase = State.returning, ""
                return True, "", [self._set_mode("LAND")]
            self.hold_prev = self.state.value if self.state is not State.holding else self.hold_prev
            self.state = State.holding
            return True, "robot stopped (HOLD)", [self._set_mode("HOLD")]
        if a is CommandAction.handover_confirmed:
            pid = cmd.parcel_id
            if pid in self.delivered:
                return True, "already delivered", []
            if not (self.state is State.at_dropoff and self.phase == "awaiting_handover" and self.handover_stop is not None
                    and self.mission.stops[self.handover_stop].parcel_id == pid):
                return False, f"not awaiting a handover of parcel {pid}", []
            i = self.handover_stop
            stop = self.mission.stops[i]
            lat, lon, alt = self.position or self._pos_tuple_of_target(i)
            self.delivered.add(pid)
            self._cancel_handover()
            self.state, self.phase = State.in_flight, ""
            self.leg = i + 1
            return True, "", [Emit(self._delivered(stop, lat, lon, alt, now, confirmed=True, code=cmd.handover_code)),
                              self._set_mode("AUTO")]
        if a is CommandAction.handover_refused:
            return self._handover_refused(cmd.parcel_id)
        return False, f"unknown action {a}", []

    def _handover_refused(self, pid: str | None) -> tuple[bool, str, list[Action]]:
        """Ground control refused the handover (wrong codes): a failed handover like a timeout,
        the parcel stays aboard and the robot drives on."""
        if not (self.state is State.at_dropoff and self.phase == "awaiting_handover" and self.handover_stop is not None
                and self.mission.stops[self.handover_stop].parcel_id == pid):
            return False, f"not awaiting a handover of parcel {pid}", []
        i = self.handover_stop
        self.failed.add(pid)
        self._cancel_handover()
        self.state, self.phase = State.in_flight, ""
        self.leg = i + 1
        return True, "", [Emit(DeliveryFailedEvent(mission_id=self.mission_id, parcel_id=pid, reason="handover_code",
                                                   detail="handover refused by ground control: wrong handover code")),
                          self._set_mode("AUTO")]

    # ---- persistence -----------------------------------------------------------------------
    _FIELDS = ("phase", "leg", "current_seq", "wanted_mode", "last_mode", "armed_seen", "hold_prev",
               "handover_stop", "handover_deadline", "aborted", "returned_sent", "parked", "failsafe_count",
               "handover_timeout_s", "pending_failsafe")

    def snapshot(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: getattr(self, k) for k in self._FIELDS}
        d.update(
            mission=self.mission.model_dump(mode="json"), state=self.state.value,
            legs_reached=sorted(self.legs_reached), delivered=sorted(self.delivered), failed=sorted(self.failed),
            release_pending={str(k): v for k, v in self.release_pending.items()},
            release_position={str(k): list(v) for k, v in self.release_position.items()},
            release_at={str(k): v for k, v in self.release_at.items()},
            release_evidence=sorted(self.release_evidence), release_unobserved=sorted(self.release_unobserved),
            release_outputs=[o.to_list() for o in self.release_outputs],
            position=list(self.position) if self.position else None,
        )
        return d

    @classmethod
    def restore(cls, d: dict[str, Any]) -> "MissionRun":
        """The run as persisted; ``watch_gap`` set: what happened while the agent was down is
        not something it observed."""
        outputs = tuple(ReleaseOutput.from_list(v) for v in d.get("release_outputs", []))
        run = cls(Mission.model_validate(d["mission"]), release_outputs=outputs)
        run.watch_gap = True
        run.handover_gap = True
        for k in cls._FIELDS:
            if k in d:
                setattr(run, k, d[k])
        run.state = State(d["state"])
        run.legs_reached = set(d.get("legs_reached", []))
        run.delivered = set(d.get("delivered", []))
        run.failed = set(d.get("failed", []))
        run.release_pending = {int(k): v for k, v in d.get("release_pending", {}).items()}
        run.release_position = {int(k): tuple(v) for k, v in d.get("release_position", {}).items()}  # type: ignore[misc]
        run.release_at = {int(k): v for k, v in d.get("release_at", {}).items()}
        run.release_evidence = set(d.get("release_evidence", []))
        run.release_unobserved = set(d.get("release_unobserved", []))
        run.position = tuple(d["position"]) if d.get("position") else None  # type: ignore[assignment]
        run.position_fresh = False
        return run


def wall_now() -> float:
    return time.time()
