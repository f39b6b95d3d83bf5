"""The lease table on SQLite and PostgreSQL: one winner per lease, renewal keeps the token,
takeover after expiry bumps it, and the fencing check refuses the old holder."""

from __future__ import annotations

import asyncio

import pytest

from ground_control.cluster import lease_store
from ground_control.cluster.lease_store import FencingError
from ground_control.db.migrate import upgrade
from ground_control.db.session import make_engine, make_sessionmaker


async def test_claim_renew_expire_and_fence(db_url):
    await asyncio.to_thread(upgrade, db_url)
    engine = make_engine(db_url)
    sm = make_sessionmaker(engine)
    try:
        async with sm() as s:
            first = await lease_store.try_claim(s, "hub:x", "r1", ttl_s=0.5)
        async with sm() as s:
            assert await lease_store.try_claim(s, "hub:x", "r2", ttl_s=0.5) is None
        async with sm() as s:
            renewed = await lease_store.try_claim(s, "hub:x", "r1", ttl_s=0.5)
        assert first is not None and renewed is not None and renewed.token == first.token == 1
        async with sm() as s:
            await lease_store.check_fence(s, "hub:x", "r1", 1)
        await asyncio.sleep(0.6)
        async with sm() as s:
            taken = await lease_store.try_claim(s, "hub:x", "r2", ttl_s=5)
        assert taken is not None and taken.token == 2
        async with sm() as s:
            with pytest.raises(FencingError):
                await lease_store.check_fence(s, "hub:x", "r1", 1)
        async with sm() as s:
            assert await lease_store.give_up(s, "hub:x", "r2")
        async with sm() as s:
            again = await lease_store.try_claim(s, "hub:x", "r1", ttl_s=5)
        assert again is not None and again.token == 3
    finally:
        await engine.dispose()


async def test_racing_claims_have_one_winner(db_url):
    await asyncio.to_thread(upgrade, db_url)
    engine = make_engine(db_url)
    sm = make_sessionmaker(engine)
    try:
        async def claim(me: str):
            async with sm() as s:
                try:
                    return await lease_store.try_claim(s, "hub:race", me, ttl_s=30)
                except Exception:   # SQLite: "database is locked" is a lost race too
                    return None
        got = await asyncio.gather(*(claim(f"r{i}") for i in range(6)))
        assert sum(g is not None for g in got) == 1
    finally:
        await engine.dispose()
