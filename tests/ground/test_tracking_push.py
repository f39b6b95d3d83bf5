"""The tracking page's live stream (``GET /track/{token}/events``, Server-Sent Events) against a
real uvicorn server (httpx's ASGI transport buffers whole responses, so it cannot show a frame
arriving while the stream is open): the status at once, every change pushed without a request,
the end after delivery, this parcel only, a plain 404 for an unknown token, and a bounded number
of open streams per client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
import uvicorn

from ground_control.api.app import create_app
from ground_control.db import models as m
from ground_control.embedded.broker import free_port
from ground_control.settings import Settings
from ground_control.tracking import push
from gc_helpers import HUB, headers_for, parcel
from test_tracking import ROBOT, put_on_mission, token_of

PUSH_DEADLINE_S = 10.0    # a change must arrive well within this (the stream checks every 0.1 s here)


@contextlib.asynccontextmanager
async def serve(db_url: str, **kw: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A real uvicorn server in this event loop; an admin client to it (``.app`` is the app)."""
    settings = Settings(database_url=db_url, mqtt_enabled=False, tracking_push_interval_s=0.1, **kw)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="on", timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        assert not task.done() and time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20,
                                     headers=await headers_for(app, "admin")) as c:
            c.app = app  # type: ignore[attr-defined]
            yield c
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


class Stream:
    """An open event stream, read event by event with a deadline."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.raw: list[str] = []

    async def next(self, timeout: float = PUSH_DEADLINE_S) -> dict[str, Any] | None:
        """The next ``status`` event's JSON, or None once the server ended the stream."""
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> dict[str, Any] | None:
        event, data = None, []
        async for line in self.lines:
            self.raw.append(line)
            if line == "":
                if event == "status":
                    return json.loads("\n".join(data))
                event, data = None, []
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        return None


@contextlib.asynccontextmanager
async def stream(c: httpx.AsyncClient, token: str) -> AsyncIterator[Stream]:
    anonymous = httpx.Headers({k: v for k, v in c.headers.items() if k.lower() != "authorization"})
    async with c.stream("GET", f"/track/{token}/events", headers=anonymous) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-store"
        yield Stream(r)


async def next_where(s: Stream, pred: Any, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + PUSH_DEADLINE_S
    while True:
        got = await s.next(max(0.1, deadline - time.monotonic()))
        assert got is not None, f"the stream ended before {what}"
        if pred(got):
            return got


async def set_state(c: httpx.AsyncClient, pid: str, state: str) -> None:
    async with c.app.state.sessionmaker() as s:
        (await s.get(m.Parcel, pid)).state = state
        await s.commit()


async def test_changes_are_pushed_without_a_request_and_the_stream_ends_after_delivery(db_url):
    async with serve(db_url) as c:
        assert (await c.post("/hubs", json=HUB)).status_code == 201
        assert (await c.post("/vehicles", json=ROBOT)).status_code == 201
        mine = await c.post("/parcels", json=parcel("p-mine", address="Mine Str. 1", lat=52.53, lon=13.41,
                                                   recipient={"name": "Ada Lovelace", "phone": "+49 30 999111"}))
        other = await c.post("/parcels", json=parcel("p-other", address="Other Str. 9", lat=52.525, lon=13.40,
                                                    recipient={"name": "Bob Other", "phone": "+49 30 555666"}))
        token, other_token = token_of(mine.json()["tracking_url"]), token_of(other.json()["tracking_url"])
        async with stream(c, token) as s, stream(c, other_token) as o:
            first = await s.next()
            assert first == (await c.get(f"/track/{token}/status")).json()     # the same JSON as /status
            assert first["state"] == "created" and first["vehicle"] is None
            assert any(line.startswith("retry:") for line in s.raw)        # the browser's reconnect delay
            assert (await o.next())["address"] == "Other Str. 9"

            # put in transit behind another stop: pushed, without the vehicle (it serves p-other first)
            await put_on_mission(c, ["p-other", "p-mine"], "robot-1")
            moving = await next_where(s, lambda e: e["state"] == "in_transit", "in transit")
            assert moving["vehicle"] is None and moving["stops_before"] == 1 and moving["eta"] is not None

            # p-other handed over: now the vehicle heads here and shows; p-other's stream ends
            await set_state(c, "p-other", "delivered")
            heading = await next_where(s, lambda e: e["vehicle"] is not None, "the vehicle heading here")
            assert heading["stops_before"] == 0 and heading["path"][-1] == {"lat": 52.53, "lon": 13.41}
            last_other = await next_where(o, lambda e: e["state"] == "delivered", "p-other delivered")
            assert last_other["vehicle"] is None
            assert await o.next() is None                                       # ended after the final status

            await set_state(c, "p-mine", "delivered")
            final = await next_where(s, lambda e: e["state"] == "delivered", "delivered")
            assert final["vehicle"] is None and final["eta"] is None and final["handover_code"] is None
            assert await s.next() is None
            assert final == (await c.get(f"/track/{token}/status")).json()

        mine_text, other_text = "\n".join(s.raw), "\n".join(o.raw)
        for secret in ("p-other", "Other Str. 9", "52.525", "Bob", "555666", "Ada", "999111", "robot-1", "m-1",
                       "p-mine", "hub-1"):
            assert secret not in mine_text, secret
        for secret in ("Mine Str. 1", "p-mine", "Ada", "999111", "robot-1", "m-1"):
            assert secret not in other_text, secret


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_unknown_token_is_a_plain_404_and_streams_per_client_are_limited(db_url):
    async with serve(db_url, tracking_streams_per_client=2) as c:
        assert (await c.post("/hubs", json=HUB)).status_code == 201
        token = token_of((await c.post("/parcels", json=parcel("p-1"))).json()["tracking_url"])
        for bad in ("x" * 43, token[:-1] + ("A" if token[-1] != "A" else "B")):
            r = await c.get(f"/track/{bad}/events")
            assert (r.status_code, r.content) == (404, b'{"detail":"Not Found"}')

        async with stream(c, token) as a, stream(c, token) as b:
            assert (await a.next())["state"] == (await b.next())["state"] == "created"
            refused, body, headers = await open_once(c, token)
            assert refused == 429 and "too many live tracking streams" in json.loads(body)["detail"]
            assert int(headers["retry-after"]) >= 1
            assert (await c.get(f"/track/{token}/status")).status_code == 200   # polling still works
        # the pages closed (a reload): their places come back, so the page may listen again
        deadline = time.monotonic() + PUSH_DEADLINE_S
        while (got := await open_once(c, token))[0] == 429:
            assert time.monotonic() < deadline, "closed streams still count against the client"
            await asyncio.sleep(0.1)
        assert got[0] == 200 and json.loads(got[1])["state"] == "created"


async def open_once(c: httpx.AsyncClient, token: str) -> tuple[int, bytes, httpx.Headers]:
    """Open the stream and close it again: (status, the first event's data or the refusal body)."""
    async with c.stream("GET", f"/track/{token}/events") as r:
        if r.status_code != 200:
            return r.status_code, await r.aread(), r.headers
        first = await Stream(r).next()
        return 200, json.dumps(first).encode(), r.headers


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_quiet_stream_sends_keep_alives_and_ends_after_its_lifetime(db_url):
    """Nothing changes: no repeated status, a comment now and then, and an end (the browser
    reconnects) so no stream is held forever."""
    app = create_app(Settings(database_url=db_url, mqtt_enabled=False))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                     headers=await headers_for(app, "admin")) as c:
            assert (await c.post("/hubs", json=HUB)).status_code == 201
            assert (await c.post("/parcels", json=parcel("p-1"))).status_code == 201
        started = time.monotonic()
        chunks = [chunk async for chunk in push.status_events(
            app.state.sessionmaker, app.state.settings, "p-1", interval_s=0.05, max_s=1.0, keepalive_s=0.3,
            refresh_s=0.2)]
        took = time.monotonic() - started
    assert 1.0 <= took < 10
    assert chunks[0].startswith(b"retry: ") and b"event: status" in chunks[0]
    assert sum(b"event: status" in ch for ch in chunks) == 1           # rebuilt, unchanged: not resent
    assert chunks.count(b": keep-alive\n\n") >= 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_page_updates_from_the_stream_and_polls_when_the_stream_is_refused(db_url):
    """In Chromium: the page shows a change pushed on ``/events`` without ever asking ``/status``;
    a second page whose stream is refused (one stream per client here) polls instead."""
    sys.path.append(str(Path(__file__).resolve().parents[1] / "console"))
    from browser import CHROMIUM_ARGS, CHROMIUM, require_chromium

    require_chromium()
    from playwright.async_api import async_playwright

    async with serve(db_url, tracking_streams_per_client=1) as c:
        assert (await c.post("/hubs", json=HUB)).status_code == 201
        assert (await c.post("/vehicles", json=ROBOT)).status_code == 201
        token = token_of((await c.post("/parcels", json=parcel("p-1"))).json()["tracking_url"])
        url = f"{c.base_url}/track/{token}"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                pushed, polled = await browser.new_page(), await browser.new_page()
                asked: dict[Any, list[str]] = {pushed: [], polled: []}
                for p in (pushed, polled):
                    p.on("request", lambda req, p=p: asked[p].append(req.url))
                await pushed.goto(url)
                await pushed.locator("#label", has_text="Order received").wait_for(timeout=10_000)
                deadline = time.monotonic() + PUSH_DEADLINE_S      # its stream is open (holds the one slot)
                while not any(u.endswith("/events") for u in asked[pushed]):
                    assert time.monotonic() < deadline, asked[pushed]
                    await asyncio.sleep(0.05)
                await polled.goto(url)                              # refused a stream: 429

                await put_on_mission(c, ["p-1"], "robot-1")
                await pushed.locator("#label", has_text="On its way").wait_for(timeout=PUSH_DEADLINE_S * 1000)
                assert await pushed.locator("#eta-card").is_visible()
                assert not any(u.endswith("/status") for u in asked[pushed]), asked[pushed]

                await set_state(c, "p-1", "delivered")
                await pushed.locator("#label", has_text="Delivered").wait_for(timeout=PUSH_DEADLINE_S * 1000)
                # the refused page polls every 5 s: it gets there too, through /status
                await polled.locator("#label", has_text="Delivered").wait_for(timeout=20_000)
                assert any(u.endswith("/status") for u in asked[polled]), asked[polled]
            finally:
                await browser.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_graceful_stop_of_fleet_serve_does_not_wait_for_open_streams(db_url, tmp_path):
    """A stream lasts minutes: SIGTERM must not wait for it (the app's shutdown, which hands hub
    leases over, would not run before a container's kill). ``FLEET_SHUTDOWN_GRACE_S`` bounds it."""
    from ground_control.auth.bootstrap import bearer, new_bootstrap_key

    port, key = free_port(), new_bootstrap_key()
    env = {**os.environ, "FLEET_DATABASE_URL": db_url, "FLEET_HOST": "127.0.0.1", "FLEET_PORT": str(port),
           "FLEET_BOOTSTRAP_API_KEY": key, "FLEET_SHUTDOWN_GRACE_S": "1"}
    with open(tmp_path / "serve.log", "wb") as log:
        proc = await asyncio.create_subprocess_exec(str(Path(sys.executable).parent / "fleet"), "serve", "--no-mqtt",
                                                    env=env, stdout=log, stderr=asyncio.subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20, headers=bearer(key)) as c:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await c.get("/health")).status_code == 200:
                        break
                assert proc.returncode is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                await asyncio.sleep(0.1)
            assert (await c.post("/hubs", json=HUB)).status_code == 201
            token = token_of((await c.post("/parcels", json=parcel("p-1"))).json()["tracking_url"])
            async with stream(c, token) as s:
                assert (await s.next())["state"] == "created"
                proc.send_signal(signal.SIGTERM)
                stopped = time.monotonic()
                await asyncio.wait_for(proc.wait(), 30)
                took = time.monotonic() - stopped
        log_text = (tmp_path / "serve.log").read_text()
        assert took < 10, f"fleet serve took {took:.1f} s to stop with a stream open"
        assert "Application shutdown complete" in log_text, log_text[-2000:]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
