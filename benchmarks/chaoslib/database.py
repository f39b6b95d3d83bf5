"""The round's own database and its outage.

PostgreSQL: a database of our own on the shared server (created, made to refuse connections for
the outage, dropped); the server itself is never stopped. SQLite: a file in the round's folder;
its "outage" is another process holding the write lock, the nearest honest equivalent (ground
control's writes wait and fail; reads still work in WAL mode).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from ground_control.embedded.broker import port_open

PG_HOST, PG_PORT, PG_USER, PG_ADMIN_DB = "127.0.0.1", 5432, "postgres", "postgres"


def postgres_reachable() -> bool:
    return port_open(PG_HOST, PG_PORT)


async def _admin():  # type: ignore[no-untyped-def]
    import asyncpg

    return await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=10)


async def _admin_run(*statements: str) -> None:
    """Run statements in order on the server's admin database (DDL cannot run inside ours)."""
    conn = await _admin()
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class RoundDatabase:
    kind: str            # "postgres" or "sqlite"
    url: str
    name: str            # database name, or the SQLite file path

    @classmethod
    async def create(cls, kind: str, tag: str, folder: Path) -> "RoundDatabase":
        if kind == "sqlite":
            path = folder / "fleet.db"
            return cls("sqlite", f"sqlite+aiosqlite:///{path}", str(path))
        name = f"lmf_chaos_{tag}"
        await _admin_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        return cls("postgres", f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}", name)

    async def drop(self) -> None:
        if self.kind != "postgres":
            return
        await _admin_run(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true',
                         f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    async def outage(self, seconds: float) -> str:
        """Make the database unusable for ``seconds``; returns what was done."""
        if self.kind == "postgres":
            conn = await _admin()
            try:
                await conn.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
                killed = await conn.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()", self.name)
                await asyncio.sleep(seconds)
            finally:
                await conn.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')
                await conn.close()
            return f"postgres: connections refused for {seconds:.0f} s, {killed} sessions terminated"
        held = await asyncio.to_thread(_hold_sqlite_lock, Path(self.name), seconds)
        return f"sqlite: write lock held by another process for {held:.0f} s (emulated outage)"


def _hold_sqlite_lock(path: Path, seconds: float) -> float:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        t0 = time.monotonic()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        return time.monotonic() - t0
    finally:
        conn.close()
