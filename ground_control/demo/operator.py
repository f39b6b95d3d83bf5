"""What an operator and the recipients do through the public API during a demo run: seed the
city, confirm robot handovers. Shared by ``fleet demo`` and ``benchmarks/chaos.py``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping
from urllib.parse import urlsplit

import httpx

from ground_control.demo.scenario import Scenario

log = logging.getLogger(__name__)


async def paged(api: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated list endpoint."""
    items: list[dict[str, Any]] = []
    while True:
        page = (await api.get(path, params={**params, "limit": 500, "offset": len(items)})).raise_for_status().json()
        items.extend(page["items"])
        if len(items) >= page["total"] or not page["items"]:
            return items


async def post(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.post(path, json=body)
    if r.status_code >= 400:
        raise RuntimeError(f"seeding {path} failed: {r.status_code} {r.text}")
    return r.json()


async def seed_city(api: httpx.AsyncClient, scenario: Scenario) -> None:
    """Hubs, the geofence and the vehicles (parcels come later, once the fleet is up)."""
    for hub in scenario.hubs:
        await post(api, "/hubs", hub)
    await post(api, "/geofences", scenario.geofence)
    for vehicle in scenario.vehicles:
        await post(api, "/vehicles", vehicle)


async def recipient_code(api: httpx.AsyncClient, tracking_url: str | None) -> str | None:
    """What the recipient reads on their tracking page: the handover code (``None`` when the page
    shows none, e.g. a drone parcel). The page is public; only its path is used, against ``api``."""
    if not tracking_url:
        return None
    r = await api.get(urlsplit(tracking_url).path + "/status", headers={"Authorization": ""})
    return r.raise_for_status().json().get("handover_code")


async def confirm_handovers(api: httpx.AsyncClient, robots: set[str], tracking: Mapping[str, str | None]) -> None:
    """Plays the recipients: when a robot reports it reached a drop-off, its customer enters the
    handover code shown on their tracking page (``tracking`` maps each parcel to its
    ``tracking_url``), which ground control checks and relays to the robot. Keeps trying while
    ground control is unreachable (restarts, database outages)."""
    seen: set[str] = set()
    while True:
        try:
            reached = await paged(api, "/events", kind="leg_reached")
        except httpx.HTTPError as exc:
            log.info("handover confirmations paused: %r", exc)
            reached = []
        for ev in reached:
            parcel, vehicle = ev.get("parcel_id"), ev["vehicle_id"]
            if vehicle not in robots or not parcel or ev["id"] in seen:
                continue
            try:
                code = await recipient_code(api, tracking.get(parcel))
                r = await api.post(f"/vehicles/{vehicle}/commands", json={
                    "action": "handover_confirmed", "parcel_id": parcel, "mission_id": ev.get("mission_id"),
                    "handover_code": code})
            except httpx.HTTPError as exc:
                log.info("handover confirmation for %s not sent yet: %r", parcel, exc)
                continue
            if r.status_code >= 500:
                continue                      # ground control in trouble: try again next round
            seen.add(ev["id"])
            if r.status_code >= 400:
                log.warning("handover confirmation for %s refused: %s", parcel, r.text)
        await asyncio.sleep(0.5)
