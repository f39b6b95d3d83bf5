"""Ground control stores an agent's honest proof: after a restart the release is reported with no
position or time (``observed: false``); the ingest must keep it as it came."""

import json
from types import SimpleNamespace

from fleet_protocol import DeliveredEvent, LatLon, ProofOfDelivery, encode, make_envelope, parse_message, topics
from ground_control.ingest.events import _store_proof


def test_unobserved_unconfirmed_proof_is_stored_as_sent():
    proof = ProofOfDelivery(method="release", target=LatLon(lat=52.37, lon=4.89), confirmed=False, observed=False,
                            reason="the release item had already run when the agent restarted")
    env = parse_message(topics.event("d1"), encode(make_envelope("event", "d1", DeliveredEvent(
        mission_id="m1", parcel_id="p1", proof=proof))))
    parcel = SimpleNamespace(proof=None, attempts=0)
    _store_proof(parcel, env, None)   # ground control cannot measure a release nobody observed
    stored = json.loads(json.dumps(parcel.proof))  # the JSON column
    assert stored["observed"] is False and stored["confirmed"] is False and stored["position"] is None
    assert stored["delivered_at"] is None and "restarted" in stored["reason"]
    assert stored["vehicle_id"] == "d1" and parcel.attempts == 1
