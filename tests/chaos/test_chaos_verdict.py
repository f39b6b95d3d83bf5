"""The chaos benchmark's verdict: ground control's account of each parcel against a recording of
the broker. Synthetic recordings prove the checker catches what it must (a double delivery, a
parcel ground control lost track of, a stranded one) and forgives what it must (QoS 1 duplicates,
a vehicle still under way)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

# appended, not prepended: benchmarks/vrplib.py must not shadow the vrplib package PyVRP imports
sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))

from chaoslib.verdict import digest, judge  # noqa: E402

NOW = 1000.0


def env(kind: str, vehicle: str, body: dict[str, Any], t: float, eid: str | None = None) -> dict[str, Any]:
    return {"t": t, "topic": f"lmf/v1/vehicle/{vehicle}/{kind}",
            "payload": {"v": 1, "type": kind, "id": eid or str(uuid.uuid4()), "vehicle_id": vehicle,
                        "ts": "2026-01-01T00:00:00Z", "seq": 1, "body": body}}


def mission(vehicle: str, mid: str, parcels: list[str], t: float) -> dict[str, Any]:
    stops = [{"parcel_id": p, "drop_off": {"lat": 52.37, "lon": 4.89}, "action": "release"} for p in parcels]
    return env("mission", vehicle, {"mission_id": mid, "vehicle_id": vehicle, "stops": stops}, t)


def event(vehicle: str, kind: str, mid: str, t: float, eid: str | None = None, **body: Any) -> dict[str, Any]:
    return env("event", vehicle, {"kind": kind, "mission_id": mid, **body}, t, eid)


def telemetry(vehicle: str, state: str, mid: str | None, t: float) -> dict[str, Any]:
    return env("telemetry", vehicle, {"agent_state": state, "mission_id": mid}, t)


def flown(vehicle: str, mid: str, parcels: list[str], t: float) -> list[dict[str, Any]]:
    return [mission(vehicle, mid, parcels, t), event(vehicle, "accepted", mid, t + 1),
            event(vehicle, "started", mid, t + 2)]


def gc_parcel(pid: str, state: str, mission_id: str | None = None, vehicle_id: str | None = None,
              proof_event: str | None = None, **extra: Any) -> dict[str, Any]:
    proof = None if proof_event is None else {"event_id": proof_event, "vehicle_id": vehicle_id, "mission_id": mission_id}
    return {"id": pid, "state": state, "mission_id": mission_id, "vehicle_id": vehicle_id, "proof": proof, **extra}


def outcome(records: list[dict[str, Any]], parcels: list[dict[str, Any]], missions: list[dict[str, Any]] = ()):
    verdict = judge([p["id"] for p in parcels], parcels, list(missions), digest(records), now=NOW)
    return {v.parcel_id: (v.outcome, v.delivered_twice) for v in verdict.parcels}, verdict.counts


def test_a_clean_delivery_counts_once_even_when_qos1_repeats_the_event() -> None:
    delivered = event("drone-1", "delivered", "m1", 10, eid="e1", parcel_id="p1")
    records = [*flown("drone-1", "m1", ["p1"], 0), delivered, delivered]   # the broker redelivered it
    got, counts = outcome(records, [gc_parcel("p1", "delivered", "m1", "drone-1", "e1")])
    assert got == {"p1": ("delivered", False)}
    assert counts["delivered"] == 1 and counts["delivered_twice"] == 0
    assert digest(records).duplicates == 1


def test_a_parcel_released_by_two_vehicles_is_delivered_twice() -> None:
    records = [*flown("drone-1", "m1", ["p1"], 0), event("drone-1", "delivered", "m1", 10, eid="e1", parcel_id="p1"),
               *flown("drone-2", "m2", ["p1"], 20), event("drone-2", "delivered", "m2", 30, eid="e2", parcel_id="p1")]
    got, counts = outcome(records, [gc_parcel("p1", "delivered", "m2", "drone-2", "e2")])
    assert got == {"p1": ("delivered", True)}
    assert counts["delivered_twice"] == 1


def test_two_distinct_release_events_on_one_mission_are_a_double_delivery() -> None:
    records = [*flown("drone-1", "m1", ["p1"], 0), event("drone-1", "delivered", "m1", 10, eid="e1", parcel_id="p1"),
               event("drone-1", "delivered", "m1", 50, eid="e2", parcel_id="p1")]
    _, counts = outcome(records, [gc_parcel("p1", "delivered", "m1", "drone-1", "e1")])
    assert counts["delivered_twice"] == 1


def test_delivered_per_ground_control_without_a_recorded_delivery_is_lost() -> None:
    records = flown("drone-1", "m1", ["p1"], 0)
    got, counts = outcome(records, [gc_parcel("p1", "delivered", "m1", "drone-1", "e-never-sent")])
    assert got == {"p1": ("lost", False)}
    assert counts["lost"] == 1


def test_a_proof_naming_another_vehicle_than_the_recorded_event_is_lost() -> None:
    records = [*flown("drone-1", "m1", ["p1"], 0), event("drone-1", "delivered", "m1", 10, eid="e1", parcel_id="p1")]
    got, _ = outcome(records, [gc_parcel("p1", "delivered", "m2", "drone-2", "e1")])
    assert got == {"p1": ("lost", False)}


def test_delivered_on_the_wire_but_not_per_ground_control_is_lost() -> None:
    records = [*flown("drone-1", "m1", ["p1"], 0), event("drone-1", "delivered", "m1", 10, eid="e1", parcel_id="p1")]
    got, _ = outcome(records, [gc_parcel("p1", "created")])
    assert got == {"p1": ("lost", False)}


def test_a_parcel_ground_control_does_not_know_is_lost() -> None:
    verdict = judge(["p1", "p2"], [gc_parcel("p1", "created", waiting_reason="no_vehicle")], [], digest([]), now=NOW)
    assert verdict.counts["lost"] == 1 and verdict.counts["waiting"] == 1


def test_given_up_with_a_vehicle_reason_is_failed_and_without_one_is_lost() -> None:
    records = [*flown("robot-1", "m1", ["p1", "p2"], 0),
               event("robot-1", "delivery_failed", "m1", 10, parcel_id="p1", reason="handover_timeout", detail=""),
               event("robot-1", "returned", "m1", 20, position={"lat": 52.37, "lon": 4.89}, undelivered=["p1"])]
    got, counts = outcome(records, [gc_parcel("p1", "returned"), gc_parcel("p2", "returned")])
    assert got == {"p1": ("failed", False), "p2": ("lost", False)}
    assert counts["failed"] == 1


def test_nothing_moving_and_no_reason_is_stranded() -> None:
    records = [*flown("drone-1", "m1", ["p1"], 0), telemetry("drone-1", "idle", None, NOW - 1)]
    missions = [{"id": "m1", "vehicle_id": "drone-1", "state": "started"}]
    got, counts = outcome(records, [gc_parcel("p1", "in_transit", "m1", "drone-1"), gc_parcel("p2", "created")],
                          missions)
    assert got == {"p1": ("stranded", False), "p2": ("stranded", False)}  # ground control thinks m1 flies; it does not
    assert counts["stranded"] == 2


def test_a_parcel_whose_vehicle_is_still_flying_it_is_unfinished_not_stranded() -> None:
    records = [*flown("drone-1", "m1", ["p1"], 0), telemetry("drone-1", "in_flight", "m1", NOW - 1)]
    missions = [{"id": "m1", "vehicle_id": "drone-1", "state": "started"}]
    got, counts = outcome(records, [gc_parcel("p1", "in_transit", "m1", "drone-1")], missions)
    assert got == {"p1": ("unfinished", False)}
    assert counts["stranded"] == 0 and counts["unfinished"] == 1


def test_malformed_traffic_is_counted_not_fatal() -> None:
    tr = digest([{"t": 1, "topic": "lmf/v1/vehicle/d/event", "payload": "[[[["},
                 {"t": 2, "topic": "lmf/v1/vehicle/d/event", "payload": {"body": "x"}},
                 {"t": 3, "topic": "other/topic", "payload": {}}])
    assert tr.malformed == 2 and not tr.event_ids


def test_a_parcel_handed_to_a_second_vehicle_while_the_first_still_holds_it_is_carried_twice() -> None:
    records = [*flown("robot-1", "m1", ["p1"], 0),                      # robot-1 never comes back
               *flown("drone-1", "m2", ["p1"], 20), event("drone-1", "delivered", "m2", 30, eid="e2", parcel_id="p1")]
    verdict = judge(["p1"], [gc_parcel("p1", "delivered", "m2", "drone-1", "e2")], [], digest(records), now=NOW)
    assert verdict.counts["carried_twice"] == 1 and verdict.counts["delivered_twice"] == 0


def test_a_parcel_replanned_after_its_vehicle_returned_with_it_is_carried_once() -> None:
    records = [*flown("drone-1", "m1", ["p1"], 0),
               event("drone-1", "returned", "m1", 10, position={"lat": 52.37, "lon": 4.89}, undelivered=["p1"]),
               *flown("drone-2", "m2", ["p1"], 20), event("drone-2", "delivered", "m2", 30, eid="e2", parcel_id="p1")]
    verdict = judge(["p1"], [gc_parcel("p1", "delivered", "m2", "drone-2", "e2")], [], digest(records), now=NOW)
    assert verdict.counts["carried_twice"] == 0 and verdict.counts["delivered"] == 1
