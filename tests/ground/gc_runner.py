"""Run a ground control (API + MQTT runtime) inside the test's event loop, stoppable and
restartable mid-scenario (its lifespan exits like a shutdown; the broker session persists)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Callable

import aiomqtt
import httpx

from ground_control.api.app import create_app
from ground_control.settings import Settings


def e2e_settings(db_url: str, broker_url: str, uid: str, **kw: Any) -> Settings:
    base = dict(
        database_url=db_url, mqtt_url=broker_url, mqtt_client_id=f"gc-test-{uid}", dispatch_interval_s=0.2,
        mission_ack_timeout_s=1.0, mission_resend_count=2, telemetry_silence_timeout_s=3.0,
        telemetry_flush_interval_s=0.1, planner_kind="greedy", planner_time_limit_s=1.0,
    )
    base.update(kw)
    return Settings(**base)


class GroundControl:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = None
        self.client: httpx.AsyncClient | None = None
        self._cm = None

    async def start(self) -> "GroundControl":
        self.app = create_app(self.settings)
        self._cm = self.app.router.lifespan_context(self.app)
        await self._cm.__aenter__()
        from gc_helpers import headers_for   # the client acts as an admin

        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://gc",
                                        headers=await headers_for(self.app, "admin"))
        return self

    async def stop(self) -> None:
        if self.client:
            await self.client.aclose()
        if self._cm:
            await self._cm.__aexit__(None, None, None)
        self._cm = None

    async def forget_session(self) -> None:
        """Drop our persistent session from the shared broker (clean_session=True connect)."""
        with contextlib.suppress(Exception):
            async with aiomqtt.Client(self.settings.mqtt_host, self.settings.mqtt_port,
                                      identifier=self.settings.mqtt_client_id, clean_session=True):
                pass


async def wait_for(pred: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
