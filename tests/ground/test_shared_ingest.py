"""Two replicas' ingest on MQTT v5 shared subscriptions (``$share/<group>/...``): the broker
hands each event to one of them, and each event is stored once even when a vehicle sends it
twice (QoS 1 redelivery) and the copies land on different replicas."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiomqtt
import pytest
from sqlalchemy import func, select

from fleet_protocol import AcceptedEvent, encode, make_envelope, topics
from ground_control.db.migrate import upgrade
from ground_control.db.models import Event
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.ingest.service import Ingest, subscriptions
from ground_control.mqtt.link import MqttLink
from ground_control.settings import Settings
from gc_helpers import create_pg_database, drop_pg_database, postgres_available

pytestmark = pytest.mark.postgres

EVENTS = 60


async def test_two_replicas_on_shared_subscriptions_store_each_event_once(private_mosquitto, unique_id):
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable")
    url = await create_pg_database()
    engine = make_engine(url)
    tasks: list[asyncio.Task] = []
    try:
        await asyncio.to_thread(upgrade, url)
        sm = make_sessionmaker(engine)
        replicas = []
        for name in ("gc-1", "gc-2"):
            s = Settings(database_url=url, mqtt_url=private_mosquitto.url, mqtt_protocol="5",
                         mqtt_shared_group="gc", mqtt_client_id=f"{name}-{unique_id}")
            assert subscriptions(s)[0][0] == "$share/gc/lmf/v1/vehicle/+/event"
            ingest = Ingest(s, sm)
            link = MqttLink(s, ingest.handle, subscriptions(s))
            replicas.append((ingest, link))
            tasks.append(asyncio.create_task(link.run()))
        for _ingest, link in replicas:
            await asyncio.wait_for(link.connected.wait(), 15)
        envelopes = [make_envelope("event", f"v{i % 3}", AcceptedEvent(mission_id=f"m-{i}")) for i in range(EVENTS)]
        async with aiomqtt.Client(private_mosquitto.host, private_mosquitto.port,
                                  protocol=aiomqtt.ProtocolVersion.V5) as pub:
            for env in envelopes + envelopes:        # every event sent twice
                await pub.publish(topics.event(env.vehicle_id), encode(env), qos=1)

        handled = lambda: sum(i.counts["event"] + i.counts["duplicate"] for i, _ in replicas)  # noqa: E731
        deadline = time.monotonic() + 60
        while handled() < 2 * EVENTS and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert handled() == 2 * EVENTS, "the group together got every message once"
        per_replica = [i.counts["event"] + i.counts["duplicate"] for i, _ in replicas]
        assert all(n > 0 for n in per_replica), f"both replicas took a share: {per_replica}"
        assert sum(i.counts["event"] for i, _ in replicas) == EVENTS
        assert sum(i.counts["duplicate"] for i, _ in replicas) == EVENTS
        async with sm() as s:
            assert await s.scalar(select(func.count()).select_from(Event)) == EVENTS
            stored = set((await s.scalars(select(Event.id))).all())
        assert stored == {str(e.id) for e in envelopes}
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await engine.dispose()
        await drop_pg_database(url)
