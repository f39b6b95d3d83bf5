"""Every operation of the OpenAPI document x every role (anonymous, admin, dispatcher, viewer,
integrator) gets the expected 401 / 403 / allowed answer. An operation added without a rule in
auth.policy, or whose rule differs from the table below, fails here."""

from __future__ import annotations

from typing import AsyncIterator

import httpx
import pytest

from ground_control.api.app import create_app
from ground_control.auth.policy import RULES, is_public
from ground_control.settings import Settings
from gc_helpers import headers_for

ROLES = ("admin", "dispatcher", "viewer", "integrator")
ALL, ADM = set(ROLES), {"admin"}
OPS, READ = {"admin", "dispatcher"}, {"admin", "dispatcher", "viewer"}
P_WRITE, P_READ = {"admin", "dispatcher", "integrator"}, ALL
INTEG = {"admin", "integrator"}

#: the intended access matrix, written out independently of auth.policy
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("GET", "/auth/me"): ALL,
    ("POST", "/users"): ADM, ("GET", "/users"): ADM, ("GET", "/users/{user_name}"): ADM,
    ("PATCH", "/users/{user_name}"): ADM,
    ("POST", "/api-keys"): ADM, ("GET", "/api-keys"): ADM, ("DELETE", "/api-keys/{key_id}"): ADM,
    ("GET", "/audit"): ADM,
    ("POST", "/hubs"): ADM, ("GET", "/hubs"): P_READ, ("GET", "/hubs/{hub_id}"): P_READ,
    ("PATCH", "/hubs/{hub_id}"): ADM, ("DELETE", "/hubs/{hub_id}"): ADM,
    ("POST", "/vehicles"): ADM, ("GET", "/vehicles"): READ, ("GET", "/vehicles/{vehicle_id}"): READ,
    ("PATCH", "/vehicles/{vehicle_id}"): ADM, ("DELETE", "/vehicles/{vehicle_id}"): ADM,
    ("POST", "/vehicles/{vehicle_id}/declare-lost"): ADM,
    ("GET", "/vehicles/{vehicle_id}/telemetry"): READ,
    ("GET", "/vehicles/{vehicle_id}/telemetry/history"): READ,
    ("POST", "/vehicles/{vehicle_id}/commands"): OPS, ("GET", "/vehicles/{vehicle_id}/commands"): READ,
    ("DELETE", "/webhooks/{subscription_id}"): INTEG,
    ("GET", "/webhooks"): INTEG,
    ("GET", "/webhooks/{subscription_id}"): INTEG,
    ("GET", "/webhooks/{subscription_id}/deliveries"): INTEG,
    ("GET", "/webhooks/{subscription_id}/deliveries/{delivery_id}"): INTEG,
    ("PATCH", "/webhooks/{subscription_id}"): INTEG,
    ("POST", "/webhooks"): INTEG,
    ("POST", "/webhooks/{subscription_id}/deliveries/{delivery_id}/replay"): INTEG,
    ("POST", "/webhooks/{subscription_id}/enable"): INTEG,
    ("POST", "/webhooks/{subscription_id}/replay"): INTEG,
    ("POST", "/webhooks/{subscription_id}/rotate-secret"): INTEG,
    ("GET", "/reports/footprint"): READ,
    ("GET", "/console/config"): READ, ("GET", "/console/feed"): READ, ("GET", "/alerts"): READ,
    ("GET", "/alerts/{alert_id}"): READ, ("POST", "/alerts/{alert_id}/acknowledge"): OPS,
    ("POST", "/vehicles/{vehicle_id}/broker-credentials"): ADM,
    ("PUT", "/vehicles/{vehicle_id}/public-key"): ADM, ("DELETE", "/vehicles/{vehicle_id}/public-key"): ADM,
    ("GET", "/vehicles/{vehicle_id}/public-key"): READ,
    ("GET", "/telemetry"): READ,
    ("PUT", "/vehicle-types/{kind}/costs"): ADM, ("GET", "/vehicle-types/{kind}/costs"): READ,
    ("POST", "/parcels"): P_WRITE, ("POST", "/parcels/import"): P_WRITE, ("GET", "/parcels"): P_READ,
    ("GET", "/parcels/{parcel_id}"): P_READ, ("GET", "/parcels/{parcel_id}/history"): P_READ,
    ("GET", "/parcels/{parcel_id}/proof"): P_READ, ("POST", "/parcels/{parcel_id}/transitions"): OPS,
    ("DELETE", "/parcels/{parcel_id}"): OPS,
    ("POST", "/geofences"): ADM, ("GET", "/geofences"): READ, ("GET", "/geofences/{geofence_id}"): READ,
    ("PUT", "/geofences/{geofence_id}"): ADM, ("DELETE", "/geofences/{geofence_id}"): ADM,
    ("GET", "/missions"): READ, ("GET", "/missions/{mission_id}"): READ, ("GET", "/events"): READ,
    ("POST", "/plans"): OPS,
    ("GET", "/dead-letters"): ADM, ("GET", "/dead-letters/{dead_letter_id}"): ADM,
    ("POST", "/dead-letters/{dead_letter_id}/replay"): ADM,
}
PUBLIC_IN_SCHEMA = {("GET", "/health"), ("POST", "/auth/token"),
                    # a recipient's tracking page: the unguessable token in the link is the credential
                    ("GET", "/track/{token}"), ("GET", "/track/{token}/status"), ("POST", "/track/{token}/drop-spot"),
                    ("GET", "/track/{token}/events")}
SAMPLE = {"kind": "drone", "dead_letter_id": "999999"}   # path values of the right type; others: an unknown id


@pytest.fixture()
async def app_client(tmp_path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, dict[str, str]]]]:
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fleet.db", mqtt_enabled=False))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            headers = {"anonymous": {}}
            for role in ROLES:
                headers[role] = await headers_for(app, role)
            yield c, headers


def operations(spec: dict) -> list[tuple[str, str]]:
    return sorted((m.upper(), p) for p, ops in spec["paths"].items() for m in ops
                  if m in {"get", "post", "put", "patch", "delete"})


def concrete(path: str) -> str:
    for part in path.split("/"):
        if part.startswith("{"):
            name = part[1:-1]
            path = path.replace(part, SAMPLE.get(name, "nope-x"))
    return path


#: answers that never end (Server-Sent Events): only refusals can be checked by a plain request
ENDLESS_STREAMS = {("GET", "/console/feed")}


async def test_every_operation_has_a_rule_and_the_expected_matrix(app_client) -> None:
    client, headers = app_client
    spec = (await client.get("/openapi.json")).json()
    ops = operations(spec)
    missing = [op for op in ops if op not in RULES and not is_public(*op)]
    assert not missing, f"operations without an access rule in auth.policy: {missing}"
    unexpected = [op for op in ops if op not in EXPECTED and op not in PUBLIC_IN_SCHEMA]
    assert not unexpected, f"operations missing from this test's EXPECTED table: {unexpected}"
    for op in ops:
        if op in EXPECTED:
            assert {r.value for r in RULES[op].roles} == EXPECTED[op], op

    failures = []
    for method, path in ops:
        if (method, path) in PUBLIC_IN_SCHEMA:
            continue
        url = concrete(path)
        body = {} if method in {"POST", "PUT", "PATCH"} else None
        for who, h in headers.items():
            if (method, path) in ENDLESS_STREAMS and who in EXPECTED[(method, path)]:
                continue   # an allowed caller gets the endless live feed: tests/console reads it in a browser
            r = await client.request(method, url, headers=h, json=body)
            if who == "anonymous":
                ok = r.status_code == 401 and r.headers.get("www-authenticate", "").startswith("Bearer")
            elif who in EXPECTED[(method, path)]:
                ok = r.status_code not in (401, 403) and r.status_code < 500
            else:
                ok = r.status_code == 403 and "may not" in r.json()["detail"]
            if not ok:
                failures.append(f"{who:10} {method} {path}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


async def test_public_operations_need_no_credential(app_client) -> None:
    client, _ = app_client
    for path in ("/health", "/", "/docs", "/redoc", "/openapi.json"):
        assert (await client.get(path)).status_code == 200, path
    spec = (await client.get("/openapi.json")).json()
    assert spec["paths"]["/health"]["get"]["security"] == []
    # Swagger's Authorize button: a password login form and a plain bearer field
    schemes = spec["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/auth/token"
    assert schemes["APIKey"] == {**schemes["APIKey"], "type": "http", "scheme": "bearer"}
    assert {"OAuth2PasswordBearer": []} in spec["paths"]["/parcels"]["post"]["security"]
    answers = spec["paths"]["/vehicles/{vehicle_id}/declare-lost"]["post"]["responses"]
    assert "401" in answers and "allowed: admin" in answers["403"]["description"]


def test_policy_has_no_rule_for_a_route_that_does_not_exist() -> None:
    """Stale rules hide mistakes (a renamed path keeps an old, wrong rule)."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", mqtt_enabled=False))
    live = set(operations(app.openapi()))
    assert set(RULES) <= live, sorted(set(RULES) - live)


async def test_a_new_route_without_a_rule_is_refused_and_track_pages_are_public(tmp_path):
    """What another branch's router meets when it is included: /track/... needs no credential;
    anything else without a rule in auth.policy is refused for every role, admin included."""
    from fastapi import APIRouter

    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fleet.db", mqtt_enabled=False))
    extra = APIRouter()

    @extra.get("/track/{token}/extra-public-page")
    async def track(token: str) -> dict:
        return {"token": token}

    @extra.post("/not-yet-ruled")
    async def webhooks() -> dict:
        return {}

    app.include_router(extra)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            assert (await c.get("/track/abc/extra-public-page")).json() == {"token": "abc"}
            assert (await c.post("/not-yet-ruled")).status_code == 401
            r = await c.post("/not-yet-ruled", headers=await headers_for(app, "admin"))
            assert r.status_code == 403 and "no access rule" in r.json()["detail"]
