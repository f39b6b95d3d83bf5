"""Ingest without a broker: messages handed to Ingest.handle as the link would. Events are
stored once by envelope id; malformed messages are dropped with a reason, never raised."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiomqtt
import pytest
from sqlalchemy import func, select

from fleet_protocol import AcceptedEvent, LatLon, Telemetry, encode, make_envelope, topics
from ground_control.db.migrate import upgrade
from ground_control.db.models import Event, TelemetryLatest
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.ingest.service import Ingest
from ground_control.settings import Settings


def msg(topic: str, payload: bytes, qos: int = 1) -> aiomqtt.Message:
    return aiomqtt.Message(topic, payload, qos, False, 1, None)


@pytest.fixture()
async def ingest(db_url):
    await asyncio.to_thread(upgrade, db_url)
    engine = make_engine(db_url)
    ing = Ingest(Settings(database_url=db_url), make_sessionmaker(engine))
    yield ing
    await engine.dispose()


async def count(ing, model) -> int:
    async with ing.sessionmaker() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_events_are_stored_once(ingest):
    env = make_envelope("event", "v1", AcceptedEvent(mission_id="m-unknown"))
    for _ in range(3):
        await ingest.handle(msg(topics.event("v1"), encode(env)))
    assert await count(ingest, Event) == 1
    assert ingest.counts["duplicate"] == 2
    async with ingest.sessionmaker() as s:
        row = await s.get(Event, str(env.id))
        assert row.kind == "accepted" and "unknown mission" in row.note


@pytest.mark.parametrize("topic,payload", [
    (topics.event("v1"), b"not json"),
    (topics.event("v1"), b"[1,2]"),
    (topics.event("v1"), json.dumps({"v": 99, "type": "event"}).encode()),
    (topics.event("v1"), json.dumps({"v": 1, "type": "telemetry"}).encode()),
    (topics.event("v1"), json.dumps({"v": 1, "type": "event", "vehicle_id": "v1", "body": {"kind": "nope"}}).encode()),
    (topics.event("v2"), encode(make_envelope("event", "v1", AcceptedEvent(mission_id="m")))),
    ("lmf/v1/other", b"{}"),
    (topics.telemetry("v1"), b"\xff\xfe"),
])
async def test_malformed_messages_are_set_aside_with_their_reason(ingest, topic, payload):
    from ground_control.db.models import DeadLetter

    await ingest.handle(msg(topic, payload))
    assert ingest.counts["invalid"] == 1
    assert await count(ingest, Event) == 0
    await ingest.flush_dead_letters(force=True)   # invalid telemetry is counted in memory first
    async with ingest.sessionmaker() as s:
        dl = (await s.scalars(select(DeadLetter))).one()
    assert dl.reason.startswith("invalid message: ") and bytes(dl.payload) == payload and dl.count == 1


async def test_telemetry_is_batched_and_latest_wins(ingest):
    def tel(v, pct):
        body = Telemetry(position=LatLon(lat=1, lon=2), heading_deg=0, ground_speed_mps=0, battery_pct=pct,
                         mode="AUTO", armed=False, gps_fix=3, agent_state="idle")
        return encode(make_envelope("telemetry", v, body))
    for i in range(50):
        await ingest.handle(msg(topics.telemetry(f"v{i % 5}"), tel(f"v{i % 5}", i), qos=0))
    assert await count(ingest, TelemetryLatest) == 0      # nothing written until the flush
    assert await ingest.telemetry.flush() == 5
    async with ingest.sessionmaker() as s:
        assert (await s.get(TelemetryLatest, "v4")).battery_pct == 49


async def test_event_is_acked_only_after_handling(mqtt_broker, unique_id):
    """A handler failure leaves the QoS 1 event unacknowledged and the link hands it to the
    handler again, on the same connection (no reconnect storm)."""
    from ground_control.mqtt.link import MqttLink

    if mqtt_broker.kind == "amqtt":
        pytest.skip("amqtt's session redelivery is not what we test here")
    settings = Settings(mqtt_url=mqtt_broker.url, mqtt_client_id=f"gc-ack-{unique_id}")
    seen: list[str] = []

    async def handler(m: aiomqtt.Message) -> None:
        seen.append(m.payload.decode())
        if len(seen) == 1:
            raise RuntimeError("database unavailable")

    topic = topics.event(f"ack-{unique_id}")
    link = MqttLink(settings, handler, [(topic, 1)])
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.connected.wait(), 10)
        async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as pub:
            await pub.publish(topic, b"event-1", qos=1)
        for _ in range(100):
            if len(seen) >= 2:
                break
            await asyncio.sleep(0.1)
        assert seen[:2] == ["event-1", "event-1"]
        assert link.manual_ack
        assert link.connects == 1 and link.handler_failures == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port, identifier=settings.mqtt_client_id, clean_session=True):
            pass


async def test_rejection_reasons_decide_exclusion(ingest):
    """``busy``/``expired`` say nothing against the vehicle: its parcels come back without
    excluding it; ``payload`` does exclude it."""
    from datetime import datetime, timezone

    from fleet_protocol import RejectedEvent
    from ground_control.db.models import Hub, Mission, Parcel, Vehicle

    async with ingest.sessionmaker() as s:
        s.add(Hub(id="h", lat=0, lon=0))
        s.add(Vehicle(id="v1", type="drone", hub_id="h", payload_kg=5, battery_wh=500, wh_per_km=10, cruise_speed_mps=10))
        await s.flush()
        for mid, pid in (("m1", "p1"), ("m2", "p2")):
            s.add(Mission(id=mid, vehicle_id="v1", hub_id="h", state="sent", payload={}, parcel_ids=[pid]))
            await s.flush()
            s.add(Parcel(id=pid, weight_kg=1, size="small", hub_id="h", lat=0, lon=0, recipient_name="r",
                         state="planned", mission_id=mid, vehicle_id="v1", excluded_vehicles=[],
                         created_at=datetime.now(timezone.utc)))
        await s.commit()
    await ingest.handle(msg(topics.event("v1"), encode(make_envelope("event", "v1", RejectedEvent(mission_id="m1", reason="busy")))))
    await ingest.handle(msg(topics.event("v1"), encode(make_envelope("event", "v1", RejectedEvent(mission_id="m2", reason="payload")))))
    async with ingest.sessionmaker() as s:
        p1, p2 = await s.get(Parcel, "p1"), await s.get(Parcel, "p2")
        assert (p1.state, p1.excluded_vehicles) == ("created", [])
        assert (p2.state, p2.excluded_vehicles) == ("created", ["v1"])
        assert (await s.get(Mission, "m1")).state == "failed"


async def test_transient_failures_are_retried_in_place_not_dead_lettered(ingest, monkeypatch):
    """SQLite busy / a lost optimistic-lock race: the same message is tried again until it
    is stored; nothing is set aside."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from ground_control.db.models import DeadLetter

    real = ingest._store_event
    failures = [OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))] * 3

    async def flaky(env, payload):
        if failures:
            raise failures.pop()
        return await real(env, payload)

    monkeypatch.setattr(ingest, "_store_event", flaky)
    env = make_envelope("event", "v1", AcceptedEvent(mission_id="m-1"))
    await ingest.handle(msg(topics.event("v1"), encode(env)))
    assert ingest.counts["retry"] == 3 and ingest.counts["event"] == 1
    assert await count(ingest, Event) == 1 and await count(ingest, DeadLetter) == 0


async def test_a_transient_failure_that_persists_while_the_database_answers_is_dead_lettered(db_url, monkeypatch):
    """A "transient" error that keeps coming while the database answers a probe is this
    message's fault after all: after ``ingest_transient_max_attempts`` it is set aside."""
    from sqlalchemy.orm.exc import StaleDataError

    from ground_control.db.models import DeadLetter

    await asyncio.to_thread(upgrade, db_url)
    engine = make_engine(db_url)
    ing = Ingest(Settings(database_url=db_url, ingest_transient_max_attempts=3, ingest_retry_max_backoff_s=0.05),
                 make_sessionmaker(engine))

    async def always_stale(env, payload):
        raise StaleDataError("UPDATE statement on table 'missions' expected to update 1 row(s); 0 were matched.")

    monkeypatch.setattr(ing, "_store_event", always_stale)
    await ing.handle(msg(topics.event("v1"), encode(make_envelope("event", "v1", AcceptedEvent(mission_id="m")))))
    async with ing.sessionmaker() as s:
        dl = (await s.scalars(select(DeadLetter))).one()
    assert "failed 3 times while the database answers" in dl.reason and "StaleDataError" in dl.reason
    await engine.dispose()


async def test_writing_a_dead_letter_waits_out_a_database_outage(ingest, monkeypatch):
    """The dead letter is written before the message is acknowledged; while the database is
    down that write is retried, so an invalid event is never lost either."""
    from ground_control.db.models import DeadLetter
    from ground_control.ingest import dead_letters

    real = dead_letters.store
    outage = [ConnectionRefusedError(111, "Connection refused")] * 2

    async def flaky(session, records):
        if outage:
            raise outage.pop()
        await real(session, records)

    monkeypatch.setattr(dead_letters, "store", flaky)
    await ingest.handle(msg(topics.event("v1"), b"not json"))
    assert outage == []
    async with ingest.sessionmaker() as s:
        assert (await s.scalars(select(DeadLetter.reason))).one().startswith("invalid message: payload is not JSON")
