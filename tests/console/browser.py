"""The console tests' one way into a browser: Debian's Chromium driven by Playwright (no browser
download), and ONE login helper, so credentials plug in here when the API has authentication
(set FLEET_TEST_CONSOLE_USER / FLEET_TEST_CONSOLE_PASSWORD, or pass ``credentials``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("FLEET_TEST_CHROMIUM", "/usr/bin/chromium")
#: as root in a closed network: no sandbox, no background calls home
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> None:
    """Skip (or fail, with FLEET_TEST_REQUIRE_SERVICES=1) when the browser or Playwright is absent."""
    missing = None
    if not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} not installed (apt-get install chromium)"
    else:
        import importlib.util
        if importlib.util.find_spec("playwright") is None:
            missing = "the playwright package is not installed (pip install -e .[dev])"
    if missing:
        if os.environ.get("FLEET_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail(f"console browser tests need Chromium: {missing}")
        pytest.skip(f"console browser tests need Chromium: {missing}")


def launch(pw: Any) -> Any:
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def default_credentials() -> tuple[str, str] | None:
    user, password = os.environ.get("FLEET_TEST_CONSOLE_USER"), os.environ.get("FLEET_TEST_CONSOLE_PASSWORD")
    return (user, password) if user and password else None


def open_console(page: Any, base_url: str, credentials: tuple[str, str] | None = None, timeout_ms: int = 60_000) -> None:
    """Open the console and log in when it asks (the API answered 401); returns once it has
    loaded its lists and opened the live feed."""
    credentials = credentials or default_credentials()
    page.goto(base_url.rstrip("/") + "/")
    ready_or_login = page.locator("body[data-ready=true], #login:not([hidden])").first
    ready_or_login.wait_for(timeout=timeout_ms)
    if page.locator("#login:not([hidden])").count():
        if credentials is None:
            raise AssertionError("the console asks for a login: set FLEET_TEST_CONSOLE_USER/PASSWORD")
        page.fill("#login-user", credentials[0])
        page.fill("#login-pass", credentials[1])
        page.click("#login-submit")
    page.locator("body[data-ready=true]").wait_for(timeout=timeout_ms)


def map_point(page: Any, lat: float, lon: float) -> dict[str, float]:
    """Where (lat, lon) is on the map element, for clicks."""
    x, y = page.evaluate("([lat, lon]) => { const p = window.lmfConsole.map.latLngToContainerPoint([lat, lon]);"
                         " return [p.x, p.y]; }", [lat, lon])
    return {"x": x, "y": y}
