"""Several replicas on one PostgreSQL: exactly one dispatches a hub, a dead owner's hubs are
taken over within the lease bound, a stale owner's write is refused by the fencing token.

Each replica here is what ``fleet serve`` runs beside its API (a HubOwnership lease loop and a
Dispatcher, on an engine of its own); the vehicles are rows set online, the broker a list of
published missions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import AsyncIterator

import pytest
from sqlalchemy import select, update

from ground_control.cluster import lease_store
from ground_control.cluster.lease import hub_lease
from ground_control.cluster.lease_store import FencingError
from ground_control.cluster.ownership import Held, HubOwnership
from ground_control.db.migrate import upgrade
from ground_control.db.models import Hub, Mission, Parcel, Vehicle, utcnow
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.dispatch.dispatcher import Dispatcher
from ground_control.dispatch.mission_builder import make_dispatch_planner
from ground_control.dispatch.reassign import ACTIVE_MISSION_STATES
from ground_control.settings import Settings
from gc_helpers import create_pg_database, drop_pg_database, postgres_available

pytestmark = pytest.mark.postgres

TTL_S, RENEW_S = 2.0, 0.5
HUBS = {"hub-a": (52.52, 13.405), "hub-b": (52.50, 13.30)}


@pytest.fixture()
async def pg_url() -> AsyncIterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable")
    url = await create_pg_database()
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await drop_pg_database(url)


def settings(url: str, name: str) -> Settings:
    # nobody acknowledges these missions: the ack timeout must not fail and re-plan them meanwhile
    return Settings(database_url=url, mqtt_client_id=name, planner_kind="greedy", dispatch_interval_s=0.05,
                    lease_ttl_s=TTL_S, lease_renew_interval_s=RENEW_S, telemetry_silence_timeout_s=600,
                    mission_ack_timeout_s=3600)


@dataclass
class Replica:
    """One ground-control replica's dispatch side."""

    name: str
    leases: HubOwnership
    dispatcher: Dispatcher
    engine: object
    published: list[dict] = field(default_factory=list)
    tasks: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    def make(cls, url: str, name: str) -> "Replica":
        s = settings(url, name)
        engine = make_engine(url)
        sm = make_sessionmaker(engine)
        leases = HubOwnership(sm, name, s.lease_ttl_s, s.lease_renew_interval_s)
        rep = cls(name, leases, None, engine)  # type: ignore[arg-type]

        async def publish(topic: str, payload: bytes, qos: int) -> None:
            if topic.endswith("/mission"):
                rep.published.append(json.loads(payload)["body"])

        rep.dispatcher = Dispatcher(s, sm, publish, make_dispatch_planner(s), ownership=leases)
        leases.on_change = rep.dispatcher.wake
        return rep

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self.leases.run()), asyncio.create_task(self.dispatcher.run())]

    async def kill(self) -> None:
        """Like kill -9: the loops stop, nothing is released."""
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self.tasks = []

    async def close(self) -> None:
        await self.kill()
        await self.engine.dispose()


async def seed(url: str, parcels_per_hub: int, vehicles_per_hub: int = 3) -> None:
    engine = make_engine(url)
    sm = make_sessionmaker(engine)
    now = utcnow()
    async with sm() as s:
        for hub_id, (lat, lon) in HUBS.items():
            s.add(Hub(id=hub_id, name=hub_id, lat=lat, lon=lon))
        await s.flush()
        for hub_id, (lat, lon) in HUBS.items():
            for i in range(vehicles_per_hub):
                s.add(Vehicle(id=f"{hub_id}-d{i}", type="drone", hub_id=hub_id, payload_kg=5, battery_wh=800,
                              wh_per_km=20, cruise_speed_mps=12, release_bays=2, status_state="online",
                              status_at=now, online=True, online_changed_at=now))
        await s.flush()
        await add_parcels(s, parcels_per_hub)
        await s.commit()
    await engine.dispose()


async def add_parcels(s, per_hub: int, tag: str = "p") -> None:
    for hub_id, (lat, lon) in HUBS.items():
        for i in range(per_hub):
            s.add(Parcel(id=f"{tag}-{hub_id}-{i}", weight_kg=0.5, size="small", hub_id=hub_id,
                         lat=lat + 0.004 * (1 + i % 4), lon=lon + 0.003 * (i // 4), recipient_name="R"))


async def wait_for(cond, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = await cond()
        if got:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout} s")


async def active_parcel_load(url: str) -> dict[str, int]:
    """parcel id -> number of active missions listing it."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            rows = (await s.scalars(select(Mission).where(Mission.state.in_(ACTIVE_MISSION_STATES)))).all()
    finally:
        await engine.dispose()
    load: dict[str, int] = {}
    for m in rows:
        for pid in m.parcel_ids:
            load[pid] = load.get(pid, 0) + 1
    return load


async def free_vehicles(url: str) -> None:
    """The vehicles finished: their missions complete, so they are idle for the next round."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            await s.execute(update(Mission).where(Mission.state.in_(ACTIVE_MISSION_STATES)).values(state="completed"))
            await s.commit()
    finally:
        await engine.dispose()


async def test_two_replicas_never_both_dispatch_a_hub(pg_url):
    await seed(pg_url, parcels_per_hub=12)
    reps = [Replica.make(pg_url, "gc-1"), Replica.make(pg_url, "gc-2")]
    try:
        for r in reps:
            r.start()
        load: dict[str, int] = {}
        sent: set[str] = set()
        total = 12 * len(HUBS)
        while len(sent) < total:   # vehicles take a few parcels a round; free them between rounds
            await wait_for(lambda: _any_new(reps, sent), 60, f"missions after {len(sent)} parcels")
            await asyncio.sleep(0.5)   # both dispatchers get several ticks at the same parcels
            snapshot = await active_parcel_load(pg_url)
            assert all(n == 1 for n in snapshot.values()), f"a parcel on two active missions: {snapshot}"
            load.update(snapshot)
            sent.update(s["parcel_id"] for r in reps for m in r.published for s in m["stops"])
            await free_vehicles(pg_url)
        owners = {r.name: r.leases.hubs() for r in reps}
        assert not owners["gc-1"] & owners["gc-2"], owners
        await wait_for(lambda: _split(reps), 20, "two replicas holding one hub each")
        published = [s["parcel_id"] for r in reps for m in r.published for s in m["stops"]]
        assert len(published) == len(set(published)), "a parcel was sent on two missions"
    finally:
        for r in reps:
            await r.close()


async def _split(reps: list[Replica]) -> bool:
    return all(len(r.leases.hubs()) == 1 for r in reps)


async def _any_new(reps: list[Replica], seen: set[str]) -> bool:
    return any(s["parcel_id"] not in seen for r in reps for m in r.published for s in m["stops"])


async def test_a_dead_owners_hubs_are_taken_over_within_the_lease_bound(pg_url):
    await seed(pg_url, parcels_per_hub=0)
    first, second = Replica.make(pg_url, "gc-1"), Replica.make(pg_url, "gc-2")
    try:
        first.start()
        await wait_for(lambda: _holds(first, set(HUBS)), 20, "the first replica holding every hub")
        second.start()
        await wait_for(lambda: _holds(second, {"hub-b"}), 20, "the newcomer taking its fair share")
        assert first.leases.hubs() == {"hub-a"}
        await first.kill()
        killed = time.monotonic()
        await wait_for(lambda: _holds(second, set(HUBS)), 20, "the survivor holding every hub")
        takeover_s = time.monotonic() - killed
        # the bound is TTL + renew interval; the rest is slack for a loaded test machine
        assert takeover_s <= TTL_S + RENEW_S + 2.5, f"takeover took {takeover_s:.2f} s"
        # and the survivor dispatches the dead replica's hub
        engine = make_engine(pg_url)
        async with make_sessionmaker(engine)() as s:
            await add_parcels(s, 1, tag="late")
            await s.commit()
        await engine.dispose()
        await wait_for(lambda: _published(second, "late-hub-a-0"), 20, "the survivor dispatching hub-a")
        assert not any(s["parcel_id"] == "late-hub-a-0" for m in first.published for s in m["stops"])
    finally:
        await first.close()
        await second.close()


async def _holds(r: Replica, hubs: set[str]) -> bool:
    return r.leases.hubs() == hubs


async def _published(r: Replica, parcel_id: str) -> bool:
    return any(s["parcel_id"] == parcel_id for m in r.published for s in m["stops"])


async def test_a_stale_owners_write_is_refused_by_the_fencing_token(pg_url):
    """The old owner is paused past its lease (a GC pause, a partition from the database); the
    other replica takes the hub; the old one wakes up still believing it owns the hub and tries
    to commit the plan it made: the database refuses it, no mission and no parcel change."""
    await seed(pg_url, parcels_per_hub=0)
    stale, other = Replica.make(pg_url, "gc-stale"), Replica.make(pg_url, "gc-other")
    try:
        await stale.leases.refresh()
        token = stale.leases.token("hub-a")
        assert token is not None
        await asyncio.sleep(TTL_S + 0.2)       # paused: no renewal
        await other.leases.refresh()
        assert "hub-a" in other.leases.hubs() and other.leases.token("hub-a") == token + 1
        # the paused replica's own clock has not caught up yet: it still trusts its lease
        stale.leases._held["hub-a"] = Held(token, time.monotonic() + 60)   # noqa: SLF001
        engine = make_engine(pg_url)
        async with make_sessionmaker(engine)() as s:
            await add_parcels(s, 2)
            await s.commit()
        with pytest.raises(FencingError):
            await stale.dispatcher.plan_and_dispatch()
        assert stale.published == []
        async with make_sessionmaker(engine)() as s:
            assert (await s.scalars(select(Mission))).all() == []
            states = set((await s.scalars(select(Parcel.state).where(Parcel.hub_id == "hub-a"))).all())
            assert states == {"created"}
            # the fencing check itself, on the lease row
            with pytest.raises(FencingError):
                await lease_store.check_fence(s, hub_lease("hub-a"), stale.leases.me, token)
            await lease_store.check_fence(s, hub_lease("hub-a"), other.leases.me, token + 1)
        await engine.dispose()
        # the current owner plans the same parcels
        await other.dispatcher.plan_and_dispatch()
        assert {"p-hub-a-0", "p-hub-a-1"} <= {s["parcel_id"] for m in other.published for s in m["stops"]}
    finally:
        await stale.close()
        await other.close()
