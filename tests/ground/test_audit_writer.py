"""The audit writer's group commit: every caller's row is committed before it returns, rows of
concurrent calls share commits, and a caller that goes away does not take others' rows with it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from ground_control.audit.writer import AuditWriter
from ground_control.db.migrate import upgrade
from ground_control.db.models import AuditEntry, utcnow
from ground_control.db.session import make_engine, make_sessionmaker


def entry(i: int) -> AuditEntry:
    return AuditEntry(at=utcnow(), actor=f"a{i}", actor_kind="user", role="admin", method="POST",
                      path=f"/x/{i}", operation="POST /x/{i}", status=200)


@pytest.fixture()
async def sessionmaker(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/audit.db"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def count(sm) -> int:
    async with sm() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditEntry)))


async def test_concurrent_rows_are_all_committed_in_fewer_commits(sessionmaker):
    commits = 0
    real = sessionmaker

    class Counting:
        def __call__(self):
            nonlocal commits
            commits += 1
            return real()

    writer = AuditWriter(lambda: Counting())
    await asyncio.gather(*(writer.write(entry(i)) for i in range(50)))
    assert await count(sessionmaker) == 50
    assert commits < 50


async def test_a_cancelled_caller_does_not_lose_the_others(sessionmaker):
    writer = AuditWriter(lambda: sessionmaker)
    tasks = [asyncio.create_task(writer.write(entry(i))) for i in range(10)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    await asyncio.gather(*tasks[1:])
    deadline = asyncio.get_running_loop().time() + 30
    while await count(sessionmaker) < 10:       # the cancelled caller's row is committed too
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)


async def test_a_failed_commit_reaches_every_waiting_caller(sessionmaker):
    def broken():
        raise RuntimeError("database gone")

    writer = AuditWriter(lambda: broken())
    results = await asyncio.gather(*(writer.write(entry(i)) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
