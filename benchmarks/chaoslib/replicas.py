"""Several ``fleet serve`` replicas for a round (benchmarks/failover.py): one PostgreSQL
database, MQTT v5 shared subscriptions, hub leases; an HTTP client that reaches whichever
replica answers, as a load balancer would; and the database-side watchers (who holds each hub,
which parcel sits on two active missions) that the benchmark judges takeovers by.

Every HTTP call of the benchmark goes through :func:`api_client`: the one place to add an
``Authorization`` header once the API requires one."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

from chaoslib.database import PG_HOST, PG_PORT, PG_USER
from chaoslib.fleet import GC_ENV, Fleet
from chaoslib.procs import FLEET, Child
from ground_control.embedded.broker import free_port

SHARED_GROUP = "gc"


class AnyReplica(httpx.AsyncBaseTransport):
    """Sends each request to the next replica in turn; one that refuses the connection (killed,
    restarting) is skipped. The body is a small JSON document, so it can be sent again."""

    def __init__(self, urls: Callable[[], list[str]]) -> None:
        self._urls = urls
        self._inner = httpx.AsyncHTTPTransport()
        self._next = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        urls = self._urls()
        self._next += 1
        last: Exception = httpx.ConnectError("no replica is running")
        for i in range(len(urls)):
            target = httpx.URL(urls[(self._next + i) % len(urls)])
            request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port)
            try:
                return await self._inner.handle_async_request(request)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                last = exc
        raise last

    async def aclose(self) -> None:
        await self._inner.aclose()


def api_client(urls: Callable[[], list[str]], timeout: float = 10.0,
               headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """THE client factory of the failover benchmark (``headers``: its bearer credential)."""
    return httpx.AsyncClient(transport=AnyReplica(urls), base_url="http://replicas", timeout=timeout,
                             headers=headers)


@dataclass
class ReplicaFleet(Fleet):
    replicas: int = 3
    lease_ttl_s: float = 5.0
    lease_renew_s: float = 1.0
    gcs: list[Child] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)

    def start_gc(self) -> None:
        credentials = self.credentials_env()
        for i in range(self.replicas):
            name = f"gc-{i + 1}"
            port = free_port()
            self.ports[name] = port
            env = {**GC_ENV, "FLEET_DATABASE_URL": self.db.url, "FLEET_MQTT_URL": self.mqtt_url,
                   "FLEET_MQTT_PROTOCOL": "5", "FLEET_MQTT_SHARED_GROUP": SHARED_GROUP,
                   # stable per replica: a restarted replica gets back its persistent session
                   "FLEET_MQTT_CLIENT_ID": f"ground-control-{name}",
                   "FLEET_LEASE_TTL_S": str(self.lease_ttl_s), "FLEET_LEASE_RENEW_INTERVAL_S": str(self.lease_renew_s),
                   "FLEET_HANDOVER_SECRET": "failover-benchmark-secret",
                   "FLEET_HOST": "127.0.0.1", "FLEET_PORT": str(port), **credentials}
            child = self.children.add(Child(name, [*FLEET, "serve"], self.folder / f"{name}.log", env))
            child.start()
            self.gcs.append(child)
        self.gc = self.gcs[0]
        self.api_url = f"http://127.0.0.1:{self.ports['gc-1']}"

    def live_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.ports[c.name]}" for c in self.gcs if c.alive]

    async def wait_gc(self, timeout: float = 120) -> None:
        import asyncio

        deadline = time.monotonic() + timeout
        pending = set(self.ports)
        async with httpx.AsyncClient(timeout=5) as http:
            while pending and time.monotonic() < deadline:
                for name in sorted(pending):
                    try:
                        if (await http.get(f"http://127.0.0.1:{self.ports[name]}/health")).status_code == 200:
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                await asyncio.sleep(0.3)
        if pending:
            raise RuntimeError(f"replicas {sorted(pending)} did not answer /health within {timeout:.0f} s")

    def replica(self, name: str) -> Child:
        return next(c for c in self.gcs if c.name == name)

    async def watchdog(self) -> None:
        import asyncio

        while True:
            await asyncio.sleep(1.0)
            for child in [self.broker, *self.gcs, *self.sims, *self.agents.values()]:
                if child is None or child.alive or child.name in self.down:
                    continue
                self.note(f"{child.name} exited on its own (rc={child.proc.returncode if child.proc else None}); restarting it")
                child.start()

    def stop(self) -> None:
        self.down.update(c.name for c in [self.broker, *self.gcs, *self.sims, *self.agents.values()] if c)
        self.children.stop_all(first=list(self.gcs))

    def info(self) -> dict[str, Any]:
        return {"broker": self.mqtt_url, "broker_errors": len(self.broker_errors()), "database": self.db.kind,
                "restarts": {c.name: c.starts - 1 for c in [self.broker, *self.gcs, *self.agents.values()]
                             if c and c.starts > 1}}


@dataclass(frozen=True)
class HubHolder:
    hub_id: str
    replica: str | None     # "gc-2" (the replica name before the holder's "/pid-random"), None: free
    holder: str | None
    token: int


class DatabaseWatch:
    """Reads the round's database directly (not through ground control): lease holders and
    active missions."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._conn: Any = None
        self._lock: Any = None   # one connection, one query at a time (the watchers run concurrently)

    async def _c(self) -> Any:
        import asyncpg

        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=self.database, timeout=10)
        return self._conn

    async def _fetch(self, sql: str) -> list[Any]:
        import asyncio

        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            return await (await self._c()).fetch(sql)

    async def hub_holders(self) -> dict[str, HubHolder]:
        rows = await self._fetch(
            "SELECT name, holder, token, expires_at > clock_timestamp() AS live FROM leases WHERE name LIKE 'hub:%'")
        out = {}
        for r in rows:
            holder = r["holder"] if r["live"] else None
            replica = holder.split("/", 1)[0].removeprefix("ground-control-") if holder else None
            out[r["name"][4:]] = HubHolder(r["name"][4:], replica, holder, r["token"])
        return out

    async def parcels_on_two_active_missions(self) -> dict[str, list[str]]:
        rows = await self._fetch("SELECT id, parcel_ids FROM missions WHERE state IN ('sent', 'accepted', 'started')")
        seen: dict[str, list[str]] = {}
        for r in rows:
            ids = r["parcel_ids"]
            for pid in (json.loads(ids) if isinstance(ids, str) else ids):
                seen.setdefault(pid, []).append(r["id"])
        return {pid: ms for pid, ms in seen.items() if len(ms) > 1}

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
