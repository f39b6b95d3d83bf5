"""Ingest without a broker: messages handed to Ingest.handle as the link would. Events are
stored once by envelope id; malformed messages are dropped with a reason, never raised."""

from __future__ import annotations

import asyncio
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
async def test_malformed_messages_are_dropped(ingest, topic, payload, caplog):
    await ingest.handle(msg(topic, payload))
    assert ingest.counts["invalid"] == 1
    assert await count(ingest, Event) == 0
    assert "dropped message" in caplog.text


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
