"""A real fleet for the console tests, shared by a module: a private Mosquitto, ``fleet serve``
on SQLite, ``fleet sim`` per hub and one ``fleet agent`` per vehicle (the chaos benchmark's
process handling, benchmarks/chaoslib), seeded with the demo city; and a folder for screenshots."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

# appended, not prepended: benchmarks/vrplib.py must not shadow the vrplib package PyVRP imports
sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))

from browser import require_chromium  # noqa: E402
from ground_control.demo.operator import seed_city  # noqa: E402
from ground_control.demo.scenario import build  # noqa: E402
from ground_control.embedded.broker import mosquitto_binary  # noqa: E402


class RunningFleet:
    def __init__(self, fleet: Any) -> None:
        self.fleet = fleet
        self.url = fleet.api_url
        self.api = httpx.Client(base_url=fleet.api_url, timeout=30, headers=fleet.api_headers)
        self.scenario = fleet.scenario
        # who logs in to the browser: a real user (password, access token); an admin, because the
        # tests also enable vehicles and draw no-fly zones (tests/console/test_console_login.py
        # checks that a viewer sees no actions)
        self.credentials = ("operator", secrets.token_urlsafe(12))
        r = self.api.post("/users", json={"name": self.credentials[0], "role": "admin",
                                          "password": self.credentials[1]})
        assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def console_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFleet]:
    require_chromium()
    if mosquitto_binary() is None:
        pytest.skip("the console tests run a private mosquitto (apt-get install mosquitto)")
    from chaoslib import fleet as chaos_fleet
    from chaoslib.database import RoundDatabase

    folder = tmp_path_factory.mktemp("console-fleet")
    db = RoundDatabase("sqlite", f"sqlite+aiosqlite:///{folder}/fleet.db", str(folder / "fleet.db"))
    scenario = build(drones=2, robots=1, parcels=0)
    fleet = chaos_fleet.Fleet(folder=folder, scenario=scenario, db=db, speedup=2.0, timeline=[])
    with pytest.MonkeyPatch.context() as mp:
        # a killed agent is offline after 6 s of silence (the default 30 s is for real links)
        mp.setitem(chaos_fleet.GC_ENV, "FLEET_TELEMETRY_SILENCE_TIMEOUT_S", "6")
        try:
            fleet.start_broker()
            fleet.start_gc()
            asyncio.run(fleet.wait_gc())

            async def seed() -> None:
                async with httpx.AsyncClient(base_url=fleet.api_url, timeout=30, headers=fleet.api_headers) as api:
                    await seed_city(api, scenario)
            asyncio.run(seed())
            asyncio.run(fleet.start_vehicles())
            running = RunningFleet(fleet)
            print(f"\nconsole fleet: {fleet.api_url}, logs in {folder}")
            yield running
            running.api.close()
        finally:
            fleet.stop()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """Screenshots of the main views, in var/test-artifacts/console (git-ignored; not pytest's
    rotating temporary folders, which later runs delete) or FLEET_TEST_ARTIFACTS."""
    chosen = os.environ.get("FLEET_TEST_ARTIFACTS")
    folder = Path(chosen) if chosen else Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "console"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots in {folder}")
    return folder
