"""The verdict of a chaos round (pure: no I/O).

Two accounts of every parcel are compared: what ground control says through its API at the end
of the round, and what an independent recorder saw on the broker (every mission ground control
published, every event a vehicle sent, each event once by its envelope id, as QoS 1 may deliver
it twice). Ground control's word alone proves nothing: a parcel counts as delivered only if a
vehicle's ``delivered`` event for it was on the wire and matches ground control's proof.

Outcomes, one per parcel:

* ``delivered`` - ground control says delivered, and its proof is a recorded ``delivered`` event;
* ``failed`` - ground control gave it up (``returned``) and a vehicle said why on the wire
  (``delivery_failed``, ``rejected`` of a mission carrying it, ``returned`` listing it undelivered);
* ``lost`` - ground control cannot account for it consistently with the recording: unknown to it,
  delivered without a recorded delivery, delivered per the wire but not per ground control, given
  up without any recorded reason;
* ``unfinished`` - not terminal yet, but a vehicle is on a mission carrying it (the deadline was
  too short, nothing is wrong);
* ``waiting`` - not terminal, nothing moving it, and ground control says why (``waiting_reason``);
* ``stranded`` - not terminal, nothing moving it, no reason given.

``delivered_twice`` is counted beside the outcome: two distinct ``delivered`` events (different
event ids: different missions, vehicles, or two releases) for one parcel. So is ``carried_twice``:
a vehicle started a mission carrying the parcel while it was still aboard another one (that
vehicle had started its own mission with it and had neither returned nor delivered it) or after
it was delivered: ground control gave away a parcel it did not hold, whether or not two drops
followed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

TERMINAL = frozenset({"delivered", "returned"})
ACTIVE_MISSION = frozenset({"sent", "accepted", "started"})
OUTCOMES = ("delivered", "failed", "lost", "stranded", "unfinished", "waiting")
#: a vehicle counts as "on" a mission when its telemetry named it this recently (recorder clock)
TELEMETRY_FRESH_S = 10.0


@dataclass(frozen=True)
class Delivery:
    event_id: str
    vehicle_id: str
    mission_id: str | None
    t: float


@dataclass
class RecordedMission:
    mission_id: str
    vehicle_id: str
    parcel_ids: list[str]
    first_sent_t: float
    last_sent_t: float
    events: dict[str, float] = field(default_factory=dict)  # kind -> first time (accepted, started, returned...)


@dataclass
class Traffic:
    """What the recorder saw, digested per parcel, mission and vehicle."""

    missions: dict[str, RecordedMission] = field(default_factory=dict)
    deliveries: dict[str, list[Delivery]] = field(default_factory=dict)       # parcel -> distinct delivered events
    fail_reasons: dict[str, list[str]] = field(default_factory=dict)          # parcel -> recorded reasons
    telemetry: dict[str, tuple[float, str, str | None]] = field(default_factory=dict)  # vehicle -> (t, agent_state, mission)
    event_ids: set[str] = field(default_factory=set)
    duplicates: int = 0
    malformed: int = 0
    last_t: float = 0.0

    def vehicle_on(self, vehicle_id: str, mission_id: str, now: float) -> bool:
        t, state, mission = self.telemetry.get(vehicle_id, (0.0, "", None))
        return mission == mission_id and state != "idle" and now - t <= TELEMETRY_FRESH_S


def _topic_parts(topic: str) -> tuple[str, str] | None:
    parts = topic.split("/")
    if len(parts) != 5 or parts[:3] != ["lmf", "v1", "vehicle"]:
        return None
    return parts[3], parts[4]


def digest(records: Iterable[dict[str, Any]]) -> Traffic:
    """``records``: the recorder's lines in arrival order, ``{"t", "topic", "payload"}`` with the
    payload parsed from JSON (a string when it was not JSON)."""
    tr = Traffic()
    for rec in records:
        t = float(rec.get("t", 0.0))
        tr.last_t = max(tr.last_t, t)
        parts = _topic_parts(str(rec.get("topic", "")))
        env = rec.get("payload")
        if parts is None:
            continue
        vehicle, kind = parts
        if not isinstance(env, dict) or not isinstance(env.get("body"), dict):
            tr.malformed += 1
            continue
        body = env["body"]
        if kind == "mission":
            _add_mission(tr, vehicle, body, t)
        elif kind == "telemetry":
            mission = body.get("mission_id")
            state = body.get("agent_state")
            if isinstance(state, str) and (mission is None or isinstance(mission, str)):
                tr.telemetry[vehicle] = (t, state, mission)
        elif kind == "event":
            eid = str(env.get("id"))
            if eid in tr.event_ids:
                tr.duplicates += 1
                continue
            tr.event_ids.add(eid)
            _add_event(tr, vehicle, eid, body, t)
    return tr


def _add_mission(tr: Traffic, vehicle: str, body: dict[str, Any], t: float) -> None:
    mid = body.get("mission_id")
    stops = body.get("stops")
    if not isinstance(mid, str) or not isinstance(stops, list):
        tr.malformed += 1
        return
    known = tr.missions.get(mid)
    if known is not None:
        known.last_sent_t = t
        return
    parcels = [s["parcel_id"] for s in stops if isinstance(s, dict) and isinstance(s.get("parcel_id"), str)]
    tr.missions[mid] = RecordedMission(mid, vehicle, parcels, t, t)


def _add_event(tr: Traffic, vehicle: str, eid: str, body: dict[str, Any], t: float) -> None:
    kind = body.get("kind")
    mid = body.get("mission_id")
    mission = tr.missions.get(mid) if isinstance(mid, str) else None
    if mission is not None and mission.vehicle_id == vehicle and isinstance(kind, str):
        mission.events.setdefault(kind, t)
    parcel = body.get("parcel_id")
    if kind == "delivered" and isinstance(parcel, str):
        tr.deliveries.setdefault(parcel, []).append(Delivery(eid, vehicle, mid if isinstance(mid, str) else None, t))
    elif kind == "delivery_failed" and isinstance(parcel, str):
        tr.fail_reasons.setdefault(parcel, []).append(f"delivery_failed:{body.get('reason')} ({vehicle})")
    elif kind == "returned":
        for p in body.get("undelivered") or []:
            if isinstance(p, str):
                tr.fail_reasons.setdefault(p, []).append(f"returned undelivered ({vehicle}, {mid})")
    elif kind == "rejected" and mission is not None and mission.vehicle_id == vehicle:
        for p in mission.parcel_ids:
            tr.fail_reasons.setdefault(p, []).append(f"rejected:{body.get('reason')} ({vehicle}, {mid})")


def carried_twice(pid: str, tr: Traffic) -> list[str]:
    """The missions that started with ``pid`` while another vehicle still held it (or after it
    was delivered), as ``"later@vehicle over earlier@vehicle"``."""
    started = sorted((m.events["started"], m) for m in tr.missions.values()
                     if pid in m.parcel_ids and "started" in m.events)
    delivered_at = {d.mission_id: d.t for d in tr.deliveries.get(pid, [])}
    clashes = []
    for i, (t_later, later) in enumerate(started):
        for t_earlier, earlier in started[:i]:
            if earlier.vehicle_id == later.vehicle_id and earlier.mission_id == later.mission_id:
                continue
            released = earlier.events.get("returned")
            dropped = delivered_at.get(earlier.mission_id)
            if dropped is not None and dropped <= t_later or released is None or released > t_later:
                clashes.append(f"{later.mission_id}@{later.vehicle_id} over {earlier.mission_id}@{earlier.vehicle_id}")
    return clashes


@dataclass
class ParcelVerdict:
    parcel_id: str
    outcome: str
    delivered_twice: bool
    gc_state: str | None
    why: str = ""
    carried_twice: bool = False


def judge_parcel(pid: str, gc: dict[str, Any] | None, gc_missions: dict[str, dict[str, Any]],
                 tr: Traffic, now: float) -> ParcelVerdict:
    deliveries = tr.deliveries.get(pid, [])
    twice = len({d.event_id for d in deliveries}) >= 2

    clashes = carried_twice(pid, tr)

    def verdict(outcome: str, why: str = "") -> ParcelVerdict:
        if twice:
            why = (why + "; " if why else "") + "delivered events: " + ", ".join(
                f"{d.vehicle_id}/{d.mission_id}/{d.event_id[:8]}" for d in deliveries)
        if clashes:
            why = (why + "; " if why else "") + "carried twice: " + ", ".join(clashes)
        return ParcelVerdict(pid, outcome, twice, None if gc is None else gc.get("state"), why, bool(clashes))

    if gc is None:
        return verdict("lost", "ground control does not know this parcel")
    state = gc.get("state")
    if state == "delivered":
        if not deliveries:
            return verdict("lost", "ground control says delivered; no delivered event was on the broker")
        proof = gc.get("proof") or {}
        match = [d for d in deliveries if d.event_id == proof.get("event_id")]
        if not match:
            return verdict("lost", f"ground control's proof (event {proof.get('event_id')}) is not a recorded delivery")
        d = match[0]
        if proof.get("vehicle_id") != d.vehicle_id or proof.get("mission_id") != d.mission_id:
            return verdict("lost", f"proof names {proof.get('vehicle_id')}/{proof.get('mission_id')}, "
                                   f"the recorded event came from {d.vehicle_id}/{d.mission_id}")
        return verdict("delivered")
    if deliveries:
        d = deliveries[0]
        return verdict("lost", f"delivered by {d.vehicle_id} on {d.mission_id} per the broker, "
                               f"ground control says {state}")
    if state == "returned":
        reasons = tr.fail_reasons.get(pid)
        if not reasons:
            return verdict("lost", "ground control gave it up (returned); no vehicle reported why")
        return verdict("failed", "; ".join(reasons[:3]))
    # not terminal: is anything moving it?
    mid = gc.get("mission_id")
    gm = gc_missions.get(mid) if mid else None
    if gm is not None and gm.get("state") in ACTIVE_MISSION:
        rm = tr.missions.get(mid)
        if tr.vehicle_on(gm["vehicle_id"], mid, now):
            return verdict("unfinished", f"{gm['vehicle_id']} is flying {mid}")
        if rm is not None and "accepted" not in rm.events and now - rm.last_sent_t <= 60:
            return verdict("unfinished", f"{mid} sent to {gm['vehicle_id']} {now - rm.last_sent_t:.0f} s ago, not yet accepted")
    if gc.get("waiting_reason"):
        return verdict("waiting", str(gc["waiting_reason"]))
    on = tr.telemetry.get(gc.get("vehicle_id") or "", None)
    return verdict("stranded", f"state {state}, mission {mid} ({gm.get('state') if gm else '-'}), "
                               f"vehicle {gc.get('vehicle_id')} telemetry {on[1:] if on else '-'}")


@dataclass
class Verdict:
    parcels: list[ParcelVerdict]

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(v.outcome for v in self.parcels)
        out = {k: c.get(k, 0) for k in OUTCOMES}
        out["delivered_twice"] = sum(v.delivered_twice for v in self.parcels)
        out["carried_twice"] = sum(v.carried_twice for v in self.parcels)
        out["parcels"] = len(self.parcels)
        return out

    def problems(self) -> list[ParcelVerdict]:
        return [v for v in self.parcels
                if v.outcome not in ("delivered", "failed") or v.delivered_twice or v.carried_twice]


def judge(parcel_ids: Iterable[str], gc_parcels: Iterable[dict[str, Any]], gc_missions: Iterable[dict[str, Any]],
          traffic: Traffic, now: float | None = None) -> Verdict:
    """One verdict per expected parcel. ``now`` is on the recorder's clock (default: its last record)."""
    by_id = {p["id"]: p for p in gc_parcels}
    missions = {m["id"]: m for m in gc_missions}
    t = traffic.last_t if now is None else now
    return Verdict([judge_parcel(pid, by_id.get(pid), missions, traffic, t) for pid in parcel_ids])
