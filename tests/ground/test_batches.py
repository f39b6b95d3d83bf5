"""Batched writes (latest telemetry, statuses): one vehicle's row the database refuses costs
only that row, dead-lettered; a database outage keeps the whole batch for the next flush."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest
from sqlalchemy import exc as sa_exc, select

from fleet_protocol import Status, VehicleState, encode, make_envelope, topics
from ground_control.db.migrate import upgrade
from ground_control.db.models import Hub, Vehicle, VehiclePresence
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.ingest.batches import write_isolating
from ground_control.ingest.service import Ingest
from ground_control.settings import Settings


class Refused(sa_exc.DataError):
    def __init__(self) -> None:
        super().__init__("INSERT", {}, ValueError("value out of range"))


async def test_write_isolating_keeps_every_good_row():
    written: list[int] = []

    async def write(rows):
        if 13 in rows or 42 in rows:
            raise Refused()
        written.extend(rows)

    refused = await write_isolating(list(range(100)), write)
    assert sorted(r for r, _ in refused) == [13, 42]
    assert sorted(written) == [r for r in range(100) if r not in (13, 42)]


async def test_write_isolating_raises_transient_failures_for_a_retry():
    async def write(rows):
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(ConnectionRefusedError):
        await write_isolating([1, 2, 3], write)


@pytest.fixture()
async def ingest(db_url):
    await asyncio.to_thread(upgrade, db_url)
    engine = make_engine(db_url)
    ing = Ingest(Settings(database_url=db_url, dead_letter_flush_interval_s=0.01), make_sessionmaker(engine))
    async with ing.sessionmaker() as s:
        s.add(Hub(id="h", lat=0, lon=0))
        await s.flush()
        for vid in ("ok", "bad"):
            s.add(Vehicle(id=vid, type="drone", hub_id="h", payload_kg=5, battery_wh=500, wh_per_km=10, cruise_speed_mps=10))
        await s.commit()
    yield ing
    await engine.dispose()


def status(vid: str) -> aiomqtt.Message:
    payload = encode(make_envelope("status", vid, Status(state=VehicleState.online)))
    return aiomqtt.Message(topics.status(vid), payload, 0, False, 1, None)


async def test_one_vehicles_refused_status_does_not_fail_the_others(ingest, monkeypatch):
    real = ingest._write_status

    async def refusing(rows):
        if any(vid == "bad" for vid, _st, _at in rows):
            raise Refused()
        await real(rows)

    monkeypatch.setattr(ingest, "_write_status", refusing)
    for vid in ("ok", "bad"):
        await ingest.handle(status(vid))
    await ingest.flush_status()
    async with ingest.sessionmaker() as s:
        assert (await s.get(Vehicle, "ok")).status_state == "online"
        assert (await s.get(Vehicle, "bad")).status_state == "offline"
    assert [r.vehicle_id for r in ingest.dead_letters.pending.values()] == ["bad"]
    await ingest.flush_dead_letters(force=True)
    assert len(ingest.dead_letters) == 0


async def test_statuses_survive_a_database_outage(ingest, monkeypatch):
    real = ingest._write_status
    down = True

    async def outage(rows):
        if down:
            raise ConnectionRefusedError(111, "Connection refused")
        await real(rows)

    monkeypatch.setattr(ingest, "_write_status", outage)
    await ingest.handle(status("ok"))
    await ingest.flush_all()          # logged, kept
    assert "ok" in ingest.status_pending
    down = False
    await ingest.flush_all()
    async with ingest.sessionmaker() as s:
        assert (await s.get(VehiclePresence, "ok")).state == "online"
        assert (await s.scalars(select(Vehicle.status_state).where(Vehicle.id == "ok"))).one() == "online"
    assert len(ingest.dead_letters) == 0
