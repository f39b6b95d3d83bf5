"""Integration-test plumbing: an agent on the test's loop, a simulated fleet, an event subscriber
that de-duplicates by envelope id (and counts redeliveries)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from typing import Any, Callable

import aiomqtt

from edge_agent.agent import Agent
from edge_factories import GC_PUBLIC
from fleet_protocol import topics


class Events:
    """Subscribes to one vehicle's events; ``by_id`` keeps the first copy of each envelope id."""

    def __init__(self, url_host: str, port: int, vehicle_id: str, *, persistent: bool = False) -> None:
        self.host, self.port, self.vid = url_host, port, vehicle_id
        self.persistent = persistent
        self.by_id: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.copies: Counter[str] = Counter()
        self.raw: list[tuple[str, bytes]] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def __aenter__(self) -> "Events":
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.subscribed.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(self.host, self.port, identifier=f"test-sub-{self.vid}",
                                          clean_session=not self.persistent) as c:
                    await c.subscribe(topics.event(self.vid), qos=1)
                    self.subscribed.set()
                    async for m in c.messages:
                        env = json.loads(m.payload)
                        self.copies[env["id"]] += 1
                        if env["id"] not in self.by_id:
                            self.by_id[env["id"]] = env
                            self.order.append(env["id"])
                        self._changed.set()
            except aiomqtt.MqttError:
                await asyncio.sleep(0.3)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [self.by_id[i]["body"] for i in self.order]

    def kinds(self) -> list[str]:
        return [b["kind"] for b in self.bodies]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies if b["kind"] == kind]

    async def wait(self, pred: Callable[["Events"], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not pred(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; events so far: {self.kinds()}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))

    async def wait_kind(self, kind: str, n: int = 1, timeout: float = 60.0) -> list[dict[str, Any]]:
        await self.wait(lambda e: len(e.of(kind)) >= n, timeout)
        return self.of(kind)


async def until(cond: Callable[[], Any], timeout: float, what: str) -> None:
    """Wait until ``cond()`` is true (a plain check, polled every 50 ms); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def publish(host: str, port: int, topic: str, payload: bytes | str) -> None:
    async with aiomqtt.Client(host, port) as c:
        await c.publish(topic, payload, qos=1)


class RunningAgent:
    """An agent on the test's loop; it pins the tests' ground-control key unless told otherwise."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("gc_public_keys", (GC_PUBLIC,))
        self.kw = kw
        self.agent: Agent | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> Agent:
        self.agent = Agent(**self.kw)
        self.task = asyncio.create_task(self.agent.run())
        return self.agent

    async def online(self, timeout: float = 10.0) -> Agent:
        """Start (if needed) and wait until the agent's MQTT session exists: a first-ever session
        cannot hold a mission published before it subscribed."""
        if self.agent is None:
            self.start()
        assert self.agent is not None
        await asyncio.wait_for(self.agent.mqtt.connected.wait(), timeout)
        return self.agent

    async def kill(self) -> None:
        """Cancel the agent's task outright (no graceful stop): like a crash, as far as the
        outbox and the broker session are concerned."""
        assert self.task is not None and self.agent is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def stop(self) -> None:
        if self.agent is not None and self.task is not None and not self.task.done():
            self.agent.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 10)
