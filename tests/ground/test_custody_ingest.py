"""Ingest without a broker: a refused proof leaves the parcel waiting in ``delivery_failed``;
the vehicle's ``returned`` brings it back to planning only when it lists it as undelivered."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from fleet_protocol import (
    AcceptedEvent, DeliveredEvent, LatLon, ProofOfDelivery, ReturnedEvent, StartedEvent, StopAction, encode,
    make_envelope, topics,
)
from ground_control.db.models import Hub, Mission, Parcel, Vehicle
import test_ingest
from test_ingest import msg

ingest = test_ingest.ingest   # the fixture: Ingest on a fresh database, no broker


async def _seed(ing):
    async with ing.sessionmaker() as s:
        s.add(Hub(id="h", lat=52.52, lon=13.405))
        s.add(Vehicle(id="v1", type="drone", hub_id="h", payload_kg=5, battery_wh=500, wh_per_km=10, cruise_speed_mps=10))
        await s.flush()
        s.add(Mission(id="m1", vehicle_id="v1", hub_id="h", state="sent", payload={}, parcel_ids=["p1", "p2"]))
        await s.flush()
        for pid in ("p1", "p2"):
            s.add(Parcel(id=pid, weight_kg=1, size="small", hub_id="h", lat=52.53, lon=13.41, recipient_name="r",
                         state="planned", mission_id="m1", vehicle_id="v1", excluded_vehicles=[],
                         created_at=datetime.now(timezone.utc)))
        await s.commit()


async def _send(ing, body):
    await ing.handle(msg(topics.event("v1"), encode(make_envelope("event", "v1", body))))


def _far_proof():
    far = LatLon(lat=52.62, lon=13.41)
    return ProofOfDelivery(method=StopAction.release, position=far, target=far, distance_m=0,
                           delivered_at=datetime.now(timezone.utc), confirmed=True)


@pytest.mark.parametrize("listed,want", [(["p1"], "created"), ([], "delivery_failed")])
async def test_refused_proof_comes_back_only_when_the_vehicle_lists_it(ingest, listed, want):
    await _seed(ingest)
    for body in (AcceptedEvent(mission_id="m1"), StartedEvent(mission_id="m1"),
                 DeliveredEvent(mission_id="m1", parcel_id="p1", proof=_far_proof()),
                 ReturnedEvent(mission_id="m1", position=LatLon(lat=52.52, lon=13.405), undelivered=listed)):
        await _send(ingest, body)
    async with ingest.sessionmaker() as s:
        p1, p2 = await s.get(Parcel, "p1"), await s.get(Parcel, "p2")
        assert p1.state == want and p1.proof is None and p1.attempts == 1
        assert p2.state == "created"     # never delivered: back to planning as before
        if want == "delivery_failed":
            assert p1.waiting_reason.startswith("proof_rejected") and p1.mission_id == "m1"
        else:
            assert p1.mission_id is None


async def test_late_proof_for_a_parcel_aboard_another_vehicle_is_only_noted(ingest):
    """v1's mission was given up before it said it took it (no ack); the parcel is now aboard
    v2. v1's late ``delivered`` is recorded with a note and changes nothing."""
    async with ingest.sessionmaker() as s:
        s.add(Hub(id="h", lat=52.52, lon=13.405))
        for vid in ("v1", "v2"):
            s.add(Vehicle(id=vid, type="drone", hub_id="h", payload_kg=5, battery_wh=500, wh_per_km=10,
                          cruise_speed_mps=10))
        await s.flush()
        s.add(Mission(id="m1", vehicle_id="v1", hub_id="h", state="failed", payload={}, parcel_ids=["p1"]))
        s.add(Mission(id="m2", vehicle_id="v2", hub_id="h", state="started", payload={}, parcel_ids=["p1"]))
        await s.flush()
        s.add(Parcel(id="p1", weight_kg=1, size="small", hub_id="h", lat=52.53, lon=13.41, recipient_name="r",
                     state="in_transit", mission_id="m2", vehicle_id="v2", excluded_vehicles=[],
                     created_at=datetime.now(timezone.utc)))
        await s.commit()
    near = LatLon(lat=52.53, lon=13.41)
    proof = ProofOfDelivery(method=StopAction.release, position=near, target=near, distance_m=0,
                            delivered_at=datetime.now(timezone.utc), confirmed=True)
    env = make_envelope("event", "v1", DeliveredEvent(mission_id="m1", parcel_id="p1", proof=proof))
    await ingest.handle(msg(topics.event("v1"), encode(env)))
    from ground_control.db.models import Event
    async with ingest.sessionmaker() as s:
        p = await s.get(Parcel, "p1")
        assert (p.state, p.mission_id, p.proof) == ("in_transit", "m2", None)
        note = (await s.get(Event, str(env.id))).note
        assert "not applied" in note and "m2" in note
