"""Ground control believes a vehicle's events only with its registered key's signature; a forged
``delivered`` is set aside as a dead letter with its reason; a genuine delivery leaves a proof
that anyone can verify with the public key alone (``fleet verify-proof``)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from fleet_keys.verify_proof import check_document
from fleet_protocol import AcceptedEvent, DeliveredEvent, LatLon, ProofOfDelivery, StartedEvent, StopAction, \
    encode, make_envelope, topics
from fleet_protocol.signing import generate_key, public_pem, sign_envelope
from ground_control.db.models import Hub, Mission, Parcel, Vehicle
from ground_control.ingest.service import Ingest
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.settings import Settings
from test_ingest import msg

AGENT_KEY = generate_key()
DROP = LatLon(lat=52.53, lon=13.41)


@pytest.fixture()
async def gc(client, db_url):
    """The API (for keys and proofs) and an ingest on the same database."""
    engine = make_engine(db_url)
    ing = Ingest(Settings(database_url=db_url), make_sessionmaker(engine))
    async with ing.sessionmaker() as s:
        s.add(Hub(id="h", lat=52.52, lon=13.405))
        for vid in ("v1", "v2"):
            s.add(Vehicle(id=vid, type="drone", hub_id="h", payload_kg=5, battery_wh=500, wh_per_km=10,
                          cruise_speed_mps=10))
        await s.flush()
        s.add(Mission(id="m1", vehicle_id="v1", hub_id="h", state="sent", payload={}, parcel_ids=["p1"]))
        s.add(Mission(id="m2", vehicle_id="v2", hub_id="h", state="sent", payload={}, parcel_ids=["p2"]))
        await s.flush()
        for pid, mid, vid in (("p1", "m1", "v1"), ("p2", "m2", "v2")):
            s.add(Parcel(id=pid, weight_kg=1, size="small", hub_id="h", lat=DROP.lat, lon=DROP.lon, recipient_name="r",
                         state="planned", mission_id=mid, vehicle_id=vid, excluded_vehicles=[],
                         created_at=datetime.now(timezone.utc)))
        await s.commit()
    r = await client.put("/vehicles/v1/public-key", json={"public_key": public_pem(AGENT_KEY)})
    assert r.status_code == 200, r.text
    yield client, ing
    await engine.dispose()


def delivered(mission_id: str = "m1", parcel_id: str = "p1"):
    proof = ProofOfDelivery(method=StopAction.release, position=DROP, target=DROP, distance_m=0.4,
                            delivered_at=datetime.now(timezone.utc), confirmed=True)
    return DeliveredEvent(mission_id=mission_id, parcel_id=parcel_id, proof=proof)


async def send(ing, body, key=AGENT_KEY, vid="v1") -> None:
    env = make_envelope("event", vid, body)
    payload = encode(env) if key is None else sign_envelope(env, key)
    await ing.handle(msg(topics.event(vid), payload))


async def parcel(ing, pid):
    async with ing.sessionmaker() as s:
        return await s.get(Parcel, pid)


async def dead_letters(client, vid="v1") -> list[str]:
    return [d["reason"] for d in (await client.get("/dead-letters", params={"vehicle_id": vid})).json()["items"]]


async def test_a_full_delivery_stores_a_proof_that_verifies_with_the_public_key_only(gc, tmp_path):
    client, ing = gc
    for body in (AcceptedEvent(mission_id="m1"), StartedEvent(mission_id="m1"), delivered()):
        await send(ing, body)
    assert (await parcel(ing, "p1")).state == "delivered"
    doc = (await client.get("/parcels/p1/proof")).json()
    assert doc["signed"]["public_key"] == public_pem(AGENT_KEY) and doc["position"]["lat"] == DROP.lat
    assert check_document(doc).ok
    # nothing of ground control is needed: the file and the key suffice
    (tmp_path / "proof.json").write_text(json.dumps(doc))
    (tmp_path / "v1.pem").write_text(public_pem(AGENT_KEY))
    import fleet_cli
    ok = CliRunner().invoke(fleet_cli.main, ["verify-proof", str(tmp_path / "proof.json"),
                                             "--public-key", str(tmp_path / "v1.pem")])
    assert ok.exit_code == 0 and "signature valid" in ok.output and '"parcel_id": "p1"' in ok.output
    # tampered: the position moved, or the proof re-attributed to another parcel
    moved = {**doc["signed"], "statement": doc["signed"]["statement"].replace(f'"lat":{DROP.lat}', '"lat":52.6')}
    assert moved != doc["signed"]
    assert not check_document({**doc, "signed": moved}).ok
    assert not check_document({**doc, "parcel_id": "p2"}).ok
    assert not check_document(doc, public_key=public_pem(generate_key())).ok
    (tmp_path / "tampered.json").write_text(json.dumps({**doc, "signed": moved}))
    bad = CliRunner().invoke(fleet_cli.main, ["verify-proof", str(tmp_path / "tampered.json")])
    assert bad.exit_code == 1 and "FAILED" in bad.output


@pytest.mark.parametrize("key", ["other", None], ids=["wrong_key", "unsigned"])
async def test_a_forged_delivered_is_refused_and_set_aside(gc, key):
    client, ing = gc
    await send(ing, delivered(), key=generate_key() if key == "other" else None)
    p = await parcel(ing, "p1")
    assert p.state == "planned" and p.proof is None
    [reason] = await dead_letters(client)
    assert reason.startswith("refused:") and ("unknown_key" in reason if key else "unsigned" in reason)


async def test_a_delivered_for_a_parcel_not_on_the_senders_mission_is_refused(gc):
    """v1 signs correctly, but p2 is aboard v2: naming v2's mission or its own, it is refused."""
    client, ing = gc
    await send(ing, delivered(mission_id="m2", parcel_id="p2"))
    await send(ing, delivered(mission_id="m1", parcel_id="p2"))
    assert (await parcel(ing, "p2")).state == "planned"
    reasons = await dead_letters(client)
    assert len(reasons) == 2 and all("not on a mission of this vehicle" in r for r in reasons)


async def test_vehicles_without_a_key_are_taken_unless_signed_events_are_required(gc, db_url):
    client, ing = gc
    await send(ing, AcceptedEvent(mission_id="m2"), key=None, vid="v2")
    async with ing.sessionmaker() as s:
        assert (await s.get(Mission, "m2")).state == "accepted"
    strict = Ingest(Settings(database_url=db_url, require_signed_events=True), ing.sessionmaker)
    await send(strict, StartedEvent(mission_id="m2"), key=None, vid="v2")
    async with ing.sessionmaker() as s:
        assert (await s.get(Mission, "m2")).state == "accepted"
    assert "no registered public key" in (await dead_letters(client, "v2"))[0]


async def test_public_key_registration_validates(gc):
    client, _ = gc
    assert (await client.put("/vehicles/nope/public-key", json={"public_key": public_pem(AGENT_KEY)})).status_code == 404
    r = await client.put("/vehicles/v2/public-key", json={"public_key": "x" * 50})
    assert r.status_code == 422
    got = (await client.get("/vehicles/v1/public-key")).json()
    assert got["public_key"] == public_pem(AGENT_KEY) and len(got["key_id"]) == 16
    assert (await client.get("/vehicles/v2/public-key")).status_code == 404
    assert (await client.get("/parcels/p1/proof")).status_code == 404   # not delivered yet


def test_ground_controls_key_lives_beside_its_database_unless_configured(tmp_path):
    """Replicas share the key by sharing the file: the default follows a SQLite database, and
    FLEET_SIGNING_KEY_FILE points anywhere (a shared volume)."""
    from ground_control.signing.keys import load_gc_key

    s = Settings(database_url=f"sqlite:///{tmp_path}/db/fleet.db",
                 signing_public_key_export=str(tmp_path / "pub" / "gc.pem"))
    assert s.signing_key_path == str(tmp_path / "db" / "gc-signing.key")
    key = load_gc_key(s)
    assert (tmp_path / "pub" / "gc.pem").read_text() == public_pem(key)
    shared = Settings(database_url="postgresql://x@h/db", signing_key_file=s.signing_key_path)
    assert public_pem(load_gc_key(shared)) == public_pem(key)   # a second replica, same key
    assert Settings(database_url="postgresql://x@h/db").signing_key_path == "./var/gc-signing.key"


async def test_the_dispatcher_signs_every_mission_and_command_it_publishes(gc, db_url):
    """Commands from the outbox and mission resends both go out signed by ground control's key,
    valid for the configured time and never past the mission's own expiry."""
    from datetime import timedelta

    from fleet_protocol import Mission as ProtoMission, parse_message
    from fleet_protocol.signing import trust_set, verify_signature
    from ground_control.db.models import Command
    from ground_control.dispatch.dispatcher import Dispatcher
    from ground_control.planning import make_planner
    from ground_control.signing.keys import Signer

    _, ing = gc
    key = generate_key()
    now = datetime.now(timezone.utc)
    pos = {"lat": DROP.lat, "lon": DROP.lon}
    proto = ProtoMission.model_validate({
        "mission_id": "m1", "vehicle_id": "v1", "vehicle_type": "drone", "hub": {"hub_id": "h", "position": pos},
        "stops": [{"parcel_id": "p1", "drop_off": pos, "action": "release"}], "expires_at": now + timedelta(seconds=120),
        "geofence": {"inclusion": {"vertices": [{"lat": 52.5, "lon": 13.3}, {"lat": 52.5, "lon": 13.5},
                                                {"lat": 52.6, "lon": 13.5}]}}})
    async with ing.sessionmaker() as s:
        v1 = await s.get(Vehicle, "v1")
        v1.online, v1.online_changed_at = True, now - timedelta(hours=1)
        m1 = await s.get(Mission, "m1")
        m1.payload, m1.send_count, m1.last_sent_at = proto.model_dump(mode="json"), 1, now - timedelta(hours=1)
        s.add(Command(id="c-1", vehicle_id="v1", action="hold", mission_id="m1"))
        await s.commit()
    sent: list[tuple[str, bytes]] = []

    async def publish(topic: str, payload: bytes, qos: int) -> None:
        sent.append((topic, payload))

    settings = Settings(database_url=db_url, signed_message_ttl_s=600)
    d = Dispatcher(settings, ing.sessionmaker, publish, make_planner("greedy"), signer=Signer(key, 600))
    await d.flush_commands()
    await d.resend_or_fail()
    assert [t for t, _ in sent] == [topics.command("v1"), topics.mission("v1")]
    for topic, payload in sent:
        raw = json.loads(payload)
        assert verify_signature(raw, trust_set([key.public_key()])).ok
        env = parse_message(topic, payload)
        assert env.valid_until - env.ts == (timedelta(seconds=600) if env.type == "command" else
                                            proto.expires_at - env.ts)
