"""The console against the authentication contract (issue 9, built on another branch): a login
form when the API answers 401, the bearer token on every call and on the live feed, and only
the actions the role allows. A stand-in for the auth layer plays the contract here."""

from __future__ import annotations

import threading
import time
from typing import Iterator

import pytest
import uvicorn
from fastapi import Form, Request
from fastapi.responses import JSONResponse

from browser import launch, open_console, require_chromium
from ground_control.api.app import create_app
from ground_control.embedded.broker import free_port, port_open
from ground_control.settings import Settings

TOKEN = "viewer-token-123"
PUBLIC = ("/console/static/", "/auth/token", "/health")


def app_with_stand_in_auth(db_url: str):   # type: ignore[no-untyped-def]
    app = create_app(Settings(database_url=db_url, mqtt_enabled=False))
    seen: list[str] = []

    @app.middleware("http")
    async def bearer_only(request: Request, call_next):   # type: ignore[no-untyped-def]
        path = request.url.path
        if path == "/" or path.startswith(PUBLIC):
            return await call_next(request)
        seen.append(f"{path} {request.headers.get('authorization')}")
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"detail": "not authenticated"}, status_code=401)
        return await call_next(request)

    @app.post("/auth/token")
    async def token(username: str = Form(), password: str = Form()) -> JSONResponse:
        if (username, password) != ("vera", "secret"):
            return JSONResponse({"detail": "wrong user name or password"}, status_code=401)
        return JSONResponse({"access_token": TOKEN, "token_type": "bearer", "expires_in": 900,
                             "role": "viewer", "hubs": None})

    @app.get("/auth/me")
    async def me() -> dict:
        return {"name": "vera", "kind": "user", "role": "viewer", "hubs": None}

    app.state.seen_auth = seen
    return app


@pytest.fixture()
def server(tmp_path) -> Iterator[tuple[str, object]]:
    require_chromium()
    app = app_with_stand_in_auth(f"sqlite+aiosqlite:///{tmp_path}/fleet.db")
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
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
        open_console(page, base, credentials=("vera", "secret"))   # the one login helper
        assert page.evaluate("sessionStorage.getItem('lmf.token')") == TOKEN
        assert "vera (viewer)" in page.inner_text("#whoami")
        page.locator("#feed-status.live").wait_for(timeout=20_000)
        for action in ("#tool-parcel", "#tool-zone", "#tool-plan", ".import"):
            assert page.locator(action).is_hidden(), f"{action} shown to a viewer"
        browser.close()
    seen = app.state.seen_auth
    assert any(s.startswith("/console/feed Bearer ") for s in seen), seen   # the stream carries the token
    assert all(s.endswith(f"Bearer {TOKEN}") for s in seen if s.startswith(("/hubs", "/parcels", "/geofences")))
