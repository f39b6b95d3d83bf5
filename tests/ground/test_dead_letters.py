"""A message that cannot be handled is set aside (``dead_letters``, visible through the API) and
acknowledged: it never blocks the other vehicles' events, never makes the link reconnect in a
loop, and is not redelivered after a restart. Over the real broker, with a real ground control."""

from __future__ import annotations

import asyncio
import base64
import json

import aiomqtt
import pytest
from sqlalchemy import select

from fleet_protocol import AcceptedEvent, FailsafeEvent, encode, make_envelope, topics
from gc_runner import GroundControl, e2e_settings, wait_for
from ground_control.db.models import DeadLetter, Event
from ground_control.ingest import service

pytestmark = pytest.mark.timeout(120)


async def publish(broker, topic: str, payloads: list[bytes], qos: int = 1) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as c:
        for p in payloads:
            await c.publish(topic, p, qos=qos)


def with_field(env_bytes: bytes, **changes: object) -> bytes:
    raw = json.loads(env_bytes)
    raw.update(changes)
    return json.dumps(raw).encode()


async def stored_event_ids(gc: GroundControl) -> set[str]:
    async with gc.app.state.sessionmaker() as s:
        return set((await s.scalars(select(Event.id))).all())


async def dead_letter_rows(gc: GroundControl, *vehicle_ids: str) -> list[DeadLetter]:
    """Dead letters of these vehicles (the broker is shared: other tests' vehicles send junk too)."""
    async with gc.app.state.sessionmaker() as s:
        stmt = select(DeadLetter).where(DeadLetter.vehicle_id.in_(vehicle_ids)).order_by(DeadLetter.id)
        return list((await s.scalars(stmt)).all())


async def subscribed(gc: GroundControl) -> GroundControl:
    """Wait until ground control has subscribed: its session is new, so a message published
    before that is not queued for it (start() gives up waiting after 5 s on a loaded machine)."""
    await asyncio.wait_for(gc.app.state.runtime.link.connected.wait(), 60)
    return gc


@pytest.fixture()
async def gc_run(db_url, mqtt_broker, unique_id):
    """Start (and restart) a ground control on this test's database and broker session."""
    if mqtt_broker.kind == "amqtt":
        pytest.skip("needs a broker with persistent-session redelivery")
    running: list[GroundControl] = []

    async def start(**kw) -> GroundControl:
        gc = await GroundControl(e2e_settings(db_url, mqtt_broker.url, unique_id, **kw)).start()
        running.append(gc)
        return await subscribed(gc)

    yield start
    for gc in running:
        await gc.stop()
    if running:
        await running[-1].forget_session()


async def test_poison_messages_are_set_aside_and_the_fleet_goes_on(gc_run, mqtt_broker, unique_id, monkeypatch):
    bad, bug, good = f"bad-{unique_id}", f"bug-{unique_id}", f"good-{unique_id}"

    real_store = service.store_and_apply

    async def buggy_store(session, env, **kw):
        if env.vehicle_id == bug:
            raise RuntimeError("handler bug for this one message")
        return await real_store(session, env, **kw)

    monkeypatch.setattr(service, "store_and_apply", buggy_store)
    gc = await gc_run()

    accepted = encode(make_envelope("event", bad, AcceptedEvent(mission_id="m-x")))
    poisons = {
        "seq 2**63": with_field(accepted, seq=2**63, id="00000000-0000-4000-8000-000000000001"),
        "NUL in detail": encode(make_envelope("event", bad, FailsafeEvent(reason="r", action="rtl", detail="ok")))
                         .replace(b'"detail":"ok"', b'"detail":"a\\u0000b"'),
        "100 KB of [": b"[" * 100_000,
        "not UTF-8": b"\xff\xfe{",
    }
    await publish(mqtt_broker, topics.event(bad), list(poisons.values()))
    bug_env = make_envelope("event", bug, AcceptedEvent(mission_id="m-y"))
    await publish(mqtt_broker, topics.event(bug), [encode(bug_env)])
    # seq 2**31 is valid: it no longer overflows events.seq (was int4 on PostgreSQL)
    big_seq = make_envelope("event", good, AcceptedEvent(mission_id="m-big"), seq=2**31)
    goods = [make_envelope("event", good, AcceptedEvent(mission_id=f"m-{i}"), seq=i + 1) for i in range(5)]
    await publish(mqtt_broker, topics.event(good), [encode(big_seq)] + [encode(e) for e in goods])

    want = {str(e.id) for e in goods} | {str(big_seq.id)}

    async def goods_stored():
        return want <= await stored_event_ids(gc)
    await wait_for(goods_stored, 60, "the healthy vehicle's events")

    async def all_dead():
        return len(await dead_letter_rows(gc, bad, bug)) >= 5
    await wait_for(all_dead, 60, "five dead letters")

    page = (await gc.client.get("/dead-letters", params={"limit": 50, "vehicle_id": bad, "channel": "event"})).json()
    assert page["total"] == 4 and page["limit"] == 50 and page["offset"] == 0
    only_bug = (await gc.client.get("/dead-letters", params={"vehicle_id": bug})).json()
    assert only_bug["total"] == 1
    items = page["items"] + only_bug["items"]
    by_payload = {base64.b64decode(d["payload_base64"]): d for d in items}
    brackets = by_payload.pop(b"[" * 65_536)   # stored cut to dead_letter_max_payload_bytes
    assert brackets["payload_truncated"] and brackets["payload_size"] == 100_000
    assert "seq" in by_payload[poisons["seq 2**63"]]["reason"]
    assert "NUL" in by_payload[poisons["NUL in detail"]]["reason"]
    assert "nested too deeply" in brackets["reason"]
    assert "not JSON" in by_payload[poisons["not UTF-8"]]["reason"]
    bug_dl = by_payload[encode(bug_env)]
    assert "RuntimeError: handler bug" in bug_dl["reason"] and bug_dl["vehicle_id"] == bug
    assert all(d["channel"] == "event" and d["count"] == 1 for d in items)
    one = (await gc.client.get(f"/dead-letters/{bug_dl['id']}")).json()
    assert one["reason"] == bug_dl["reason"] and one["payload_truncated"] is False
    assert (await gc.client.get("/dead-letters/999999")).status_code == 404
    assert str(bug_env.id) not in await stored_event_ids(gc)
    # the link stayed up: it never dropped the connection to get rid of a message
    assert gc.app.state.runtime.link.connects == 1

    # restart with the handler fixed: nothing is redelivered (the poison was acknowledged)
    await gc.stop()
    monkeypatch.setattr(service, "store_and_apply", real_store)
    gc = await gc_run()
    after = make_envelope("event", good, AcceptedEvent(mission_id="m-after"), seq=99)
    await publish(mqtt_broker, topics.event(good), [encode(after)])

    async def after_stored():
        return str(after.id) in await stored_event_ids(gc)
    await wait_for(after_stored, 60, "the event published after the restart")
    assert str(bug_env.id) not in await stored_event_ids(gc)   # not redelivered...
    assert [d.count for d in await dead_letter_rows(gc, bad, bug)] == [1] * 5   # ...nor dead-lettered again
    assert gc.app.state.runtime.link.connects == 1

    # the operator replays the bug's message now that the handler is fixed
    r = await gc.client.post(f"/dead-letters/{bug_dl['id']}/replay")
    assert r.status_code == 200, r.text
    assert str(bug_env.id) in await stored_event_ids(gc)
    assert (await gc.client.get(f"/dead-letters/{bug_dl['id']}")).status_code == 404
    r = await gc.client.post(f"/dead-letters/{by_payload[poisons['NUL in detail']]['id']}/replay")
    assert r.status_code == 409 and "NUL" in r.json()["detail"]


async def test_invalid_telemetry_is_counted_per_vehicle_not_stored_per_message(gc_run, mqtt_broker, unique_id):
    """A flood of bad telemetry costs one dead-letter row per vehicle, counting up."""
    vid = f"flood-{unique_id}"
    gc = await gc_run(dead_letter_flush_interval_s=0.5)
    await publish(mqtt_broker, topics.telemetry(vid), [b'{"v":1,"type":"telemetry","n":%d}' % i for i in range(300)], qos=0)

    async def counted():
        rows = await dead_letter_rows(gc, vid)
        return rows and rows[0].count >= 250 and rows
    rows = await wait_for(counted, 60, "the telemetry flood to be counted")
    assert len(rows) == 1 and rows[0].channel == "telemetry" and rows[0].vehicle_id == vid
    assert "invalid telemetry" in rows[0].reason


async def _wait_transient_retry(gc: GroundControl) -> None:
    async def retried():
        return gc.app.state.runtime.ingest.counts["retry"] > 0
    await wait_for(retried, 60, "ingest to meet the outage")


@pytest.mark.postgres
async def test_database_outage_dead_letters_nothing_and_loses_nothing(mqtt_broker, unique_id):
    """PostgreSQL refuses connections to our database for a while (the shared server stays up):
    events published meanwhile wait unacknowledged and are all stored once it is back."""
    import asyncpg

    from gc_helpers import PG_URL, _asyncpg_dsn, create_pg_database, drop_pg_database, postgres_available
    from sqlalchemy.engine import make_url

    if not postgres_available():
        pytest.skip("PostgreSQL not reachable")
    if mqtt_broker.kind == "amqtt":
        pytest.skip("needs a broker with persistent-session redelivery")
    url = await create_pg_database()
    name = make_url(url).database
    admin = await asyncpg.connect(_asyncpg_dsn(PG_URL))
    gc = None
    try:
        gc = await GroundControl(e2e_settings(url, mqtt_broker.url, unique_id, ingest_retry_max_backoff_s=0.5)).start()
        await subscribed(gc)
        vid = f"out-{unique_id}"
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        envs = [make_envelope("event", vid, AcceptedEvent(mission_id=f"m-{i}"), seq=i + 1) for i in range(10)]
        await publish(mqtt_broker, topics.event(vid), [encode(e) for e in envs])
        await _wait_transient_retry(gc)
        await asyncio.sleep(1.0)   # let it fail a few more times: the outage goes on
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

        async def all_stored():
            return {str(e.id) for e in envs} <= await stored_event_ids(gc)
        await wait_for(all_stored, 60, "every event published during the outage")
        assert await dead_letter_rows(gc, vid) == []
        assert gc.app.state.runtime.link.connects == 1
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
        if gc is not None:
            await gc.stop()
            await gc.forget_session()
        await drop_pg_database(url)


async def test_one_vehicles_bad_telemetry_row_does_not_silence_the_others(gc_run, mqtt_broker, unique_id, monkeypatch):
    """One vehicle's telemetry row the database refuses (made so here: its gps_fix overflows the
    column) costs only that vehicle's sample; the healthy vehicle in the same batch keeps being
    written and is never declared offline by telemetry silence."""
    from fake_vehicle import FakeVehicle

    healthy, poison = f"ok-{unique_id}", f"poison-{unique_id}"
    real_row = service.telemetry_row

    def poisoned_row(vehicle_id, body, ts, received_at):
        row = real_row(vehicle_id, body, ts, received_at)
        if vehicle_id == poison:
            row["gps_fix"] = 2**70   # no integer column holds it
        return row

    monkeypatch.setattr(service, "telemetry_row", poisoned_row)
    gc = await gc_run(dead_letter_flush_interval_s=0.5)
    c = gc.client
    assert (await c.post("/hubs", json={"id": "hub", "lat": 52.52, "lon": 13.405})).status_code == 201
    for vid in (healthy, poison):
        r = await c.post("/vehicles", json={"id": vid, "type": "drone", "hub_id": "hub", "payload_kg": 5,
                                            "battery_wh": 800, "wh_per_km": 15, "cruise_speed_mps": 12})
        assert r.status_code == 201, r.text
    vehicles = [FakeVehicle(mqtt_broker.host, mqtt_broker.port, vid) for vid in (healthy, poison)]
    try:
        for v in vehicles:
            await v.start()

        async def healthy_online():
            return (await c.get(f"/vehicles/{healthy}")).json()["online"]
        await wait_for(healthy_online, 60, "the healthy vehicle to come online")
        # several silence timeouts (3 s here) with the poison row in every batch
        silence = gc.settings.telemetry_silence_timeout_s
        loop = asyncio.get_running_loop()
        until = loop.time() + 3 * silence
        while loop.time() < until:
            assert await healthy_online(), "the healthy vehicle was declared offline"
            await asyncio.sleep(0.25)
        tel = (await c.get(f"/vehicles/{healthy}/telemetry")).json()
        assert tel["vehicle_id"] == healthy

        async def poison_dead_lettered():
            rows = await dead_letter_rows(gc, poison)
            return rows and rows[0]
        dl = await wait_for(poison_dead_lettered, 30, "the refused telemetry row as a dead letter")
        assert dl.channel == "telemetry" and "database refused" in dl.reason and dl.count >= 1
        assert await dead_letter_rows(gc, healthy) == []
    finally:
        for v in vehicles:
            await v.stop()


async def test_dead_letter_api_validates_its_input(client):
    r = await client.get("/dead-letters")
    assert r.status_code == 200 and r.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    for bad in ({"channel": "nope"}, {"vehicle_id": "a b"}, {"limit": 0}):
        assert (await client.get("/dead-letters", params=bad)).status_code == 422
    assert (await client.get("/dead-letters/0")).status_code == 422
    assert (await client.get("/dead-letters/123")).status_code == 404
    assert (await client.post("/dead-letters/123/replay")).status_code == 404


async def test_sqlite_locked_by_another_writer_dead_letters_nothing(mqtt_broker, unique_id, tmp_path):
    """SQLite's outage: another connection holds the write lock, so ingest's writes fail with
    "database is locked". Events published meanwhile wait and are all stored
    once the lock is released; none is dead-lettered."""
    import sqlite3

    if mqtt_broker.kind == "amqtt":
        pytest.skip("needs a broker with persistent-session redelivery")
    path = tmp_path / "fleet.db"
    gc = await GroundControl(e2e_settings(f"sqlite+aiosqlite:///{path}", mqtt_broker.url, unique_id,
                                          ingest_retry_max_backoff_s=0.5)).start()
    await subscribed(gc)
    locker = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    try:
        vid = f"lock-{unique_id}"
        await asyncio.to_thread(locker.execute, "BEGIN EXCLUSIVE")   # may wait for ingest's own write
        envs = [make_envelope("event", vid, AcceptedEvent(mission_id=f"m-{i}"), seq=i + 1) for i in range(5)]
        await publish(mqtt_broker, topics.event(vid), [encode(e) for e in envs])
        await _wait_transient_retry(gc)
        locker.execute("ROLLBACK")

        async def all_stored():
            return {str(e.id) for e in envs} <= await stored_event_ids(gc)
        await wait_for(all_stored, 60, "every event published while the database was locked")
        assert await dead_letter_rows(gc, vid) == []
        assert gc.app.state.runtime.link.connects == 1
    finally:
        if locker.in_transaction:
            locker.execute("ROLLBACK")
        locker.close()
        await gc.stop()
        await gc.forget_session()
