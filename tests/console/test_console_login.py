"""The console against the real authentication (issue 9): a login form when the API answers
401, the bearer token on every call and on the live feed, and only the actions the role allows."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Iterator

import pytest
import uvicorn
from fastapi import Request

from browser import launch, open_console, require_chromium
from ground_control.api.app import create_app
from ground_control.auth.roles import Role
from ground_control.auth.store import create_user
from ground_control.db.models import Geofence
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.embedded.broker import free_port, port_open
from ground_control.settings import Settings

PASSWORD = "secret-viewer-pass"


def app_recording_credentials(db_url: str):   # type: ignore[no-untyped-def]
    """The real app, with a middleware noting which credential each API call carried."""
    app = create_app(Settings(database_url=db_url, mqtt_enabled=False))
    seen: list[str] = []

    @app.middleware("http")
    async def note_credentials(request: Request, call_next):   # type: ignore[no-untyped-def]
        path = request.url.path
        if path != "/" and not path.startswith(("/console/static/", "/auth/token", "/health")):
            seen.append(f"{path} {request.headers.get('authorization')}")
        return await call_next(request)

    app.state.seen_auth = seen
    return app


async def add_viewer(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as session:
            await create_user(session, "vera", Role.viewer, PASSWORD)
            # a fence with a no-fly zone: the viewer sees it listed, with no edit controls
            square = [[4.88, 52.36], [4.90, 52.36], [4.90, 52.38], [4.88, 52.38], [4.88, 52.36]]
            zone = [[4.885, 52.365], [4.89, 52.365], [4.89, 52.37], [4.885, 52.365]]
            session.add(Geofence(id="city", name="city", ceiling_m=120, geojson={"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"role": "inclusion"}, "geometry": {"type": "Polygon", "coordinates": [square]}},
                {"type": "Feature", "properties": {"role": "exclusion", "name": "clinic"},
                 "geometry": {"type": "Polygon", "coordinates": [zone]}}]}))
            await session.commit()
    finally:
        await engine.dispose()


@pytest.fixture()
def server(tmp_path) -> Iterator[tuple[str, object]]:
    require_chromium()
    db_url = f"sqlite+aiosqlite:///{tmp_path}/fleet.db"
    app = app_recording_credentials(db_url)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    asyncio.run(add_viewer(db_url))   # the server migrated the database on start
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    thread.join(10)


def test_login_on_401_then_bearer_everywhere_and_a_viewer_sees_no_actions(server) -> None:
    from playwright.sync_api import sync_playwright

    base, app = server
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        page.goto(base + "/")
        page.locator("#login:not([hidden])").wait_for(timeout=30_000)
        page.fill("#login-user", "vera")
        page.fill("#login-pass", "wrong")
        page.click("#login-submit")
        page.locator("#login-error", has_text="wrong user name or password").wait_for(timeout=10_000)
        open_console(page, base, credentials=("vera", PASSWORD))   # the one login helper
        token = page.evaluate("sessionStorage.getItem('lmf.token')")
        assert token and token.count(".") == 2, token   # a signed access token (JWT)
        assert "vera (viewer)" in page.inner_text("#whoami")
        page.locator("#feed-status.live").wait_for(timeout=20_000)
        for action in ("#tool-parcel", "#tool-zone", "#tool-plan", ".import"):
            assert page.locator(action).is_hidden(), f"{action} shown to a viewer"
        page.click("[data-tab=zones]")
        page.locator("#zone-list tr[data-zone-name=clinic]").wait_for(timeout=10_000)
        assert page.locator("#zone-list button").count() == 0, "zone edit/delete shown to a viewer"
        assert page.locator("#zone-edit-controls").is_hidden()
        browser.close()
    seen = app.state.seen_auth
    assert any(s.startswith("/console/feed Bearer ") for s in seen), seen   # the stream carries the token
    assert all(s.endswith(f"Bearer {token}") for s in seen if s.startswith(("/hubs", "/parcels", "/geofences")))
