"""Attacks on the HTTP API are refused and nothing legitimate is lost: wrong, expired, tampered
or foreign tokens, revoked keys, disabled users, password brute force, a hub-limited principal
reaching into another hub; every operator command is audited with its actor."""

from __future__ import annotations

import asyncio
import base64
import json

from datetime import datetime, timedelta, timezone
from typing import AsyncIterator

import httpx
import pytest
from click.testing import CliRunner

import fleet_cli
from ground_control.api.app import create_app
from ground_control.auth import store, tokens
from ground_control.auth.dependencies import jwt_secret
from ground_control.auth.roles import Role
from ground_control.db.models import utcnow
from ground_control.settings import Settings
from gc_helpers import HUB, VEHICLE, headers_for, parcel

PASSWORD = "correct horse battery"
HUB2 = {**HUB, "id": "hub-2", "name": "East", "lon": 13.5}
VEHICLE2 = {**VEHICLE, "id": "drone-2", "hub_id": "hub-2"}


async def _started(url: str, **kw) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=url, mqtt_enabled=False, **kw))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


@pytest.fixture()
async def api(tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    """An app with no credential attached to the client; ``admin`` headers via headers_for."""
    async for c in _started(f"sqlite+aiosqlite:///{tmp_path}/fleet.db"):
        yield c


async def add_user(api, name: str, role: Role = Role.dispatcher, hubs=None) -> None:
    async with api.app.state.sessionmaker() as s:
        await store.create_user(s, name, role, PASSWORD, hubs)
        await s.commit()


async def login(api, name: str, password: str = PASSWORD) -> httpx.Response:
    return await api.post("/auth/token", data={"username": name, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def seed_two_hubs(api) -> dict[str, str]:
    admin = await headers_for(api, "admin")
    for path, body in (("/hubs", HUB), ("/hubs", HUB2), ("/vehicles", VEHICLE), ("/vehicles", VEHICLE2),
                       ("/parcels", parcel("p-1")), ("/parcels", parcel("p-2", hub_id="hub-2"))):
        assert (await api.post(path, json=body, headers=admin)).status_code == 201, (path, body)
    return admin


async def test_login_gives_a_short_lived_token_that_says_who(api):
    await add_user(api, "dora")
    r = await login(api, "dora")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["role"] == "dispatcher" and body["hubs"] is None
    assert 60 <= body["expires_in"] <= 3600
    me = await api.get("/auth/me", headers=bearer(body["access_token"]))
    assert me.json() == {"name": "dora", "kind": "user", "role": "dispatcher", "hubs": None}
    key = await headers_for(api, "integrator", ["hub-x"])
    me = (await api.get("/auth/me", headers=key)).json()
    assert me["kind"] == "api_key" and me["role"] == "integrator" and me["hubs"] == ["hub-x"]


async def test_wrong_expired_tampered_and_foreign_tokens_are_refused(api, tmp_path):
    await add_user(api, "dora")
    assert (await login(api, "dora", "wrong password!")).status_code == 401
    assert (await login(api, "nobody")).status_code == 401
    good = (await login(api, "dora")).json()["access_token"]
    secret = await jwt_secret(type("R", (), {"app": api.app})())
    expired = tokens.issue(secret, "dora", utcnow() - timedelta(hours=2), 60)
    head, payload, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged_payload = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "admin"}).encode()).rstrip(b"=").decode()
    tampered = f"{head}.{forged_payload}.{sig}"
    foreign = tokens.issue("another-secret-" + "x" * 40, "dora", utcnow(), 600)
    none_head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    none_alg = f"{none_head}.{payload}."
    for credential, why in ((expired, "expired"), (tampered, "invalid"), (foreign, "invalid"),
                            (none_alg, "invalid"), ("lmf_not-a-real-key-at-all-000000000000", "API key")):
        r = await api.get("/parcels", headers=bearer(credential))
        assert r.status_code == 401, (why, r.text)
        assert why in r.json()["detail"] and r.headers["www-authenticate"].startswith("Bearer")
    r = await api.get("/parcels", headers={"Authorization": f"Basic {good}"})
    assert r.status_code == 401
    assert (await api.get("/parcels", headers=bearer(good))).status_code == 200


async def test_revoked_key_and_disabled_user_stop_at_once(api):
    admin = await headers_for(api, "admin")
    r = await api.post("/api-keys", json={"name": "shop", "role": "integrator"}, headers=admin)
    assert r.status_code == 201
    created = r.json()
    shop = bearer(created["key"])
    assert (await api.get("/parcels", headers=shop)).status_code == 200
    listed = (await api.get("/api-keys", headers=admin)).json()["items"]
    row = next(k for k in listed if k["name"] == "shop")
    assert "key" not in row and row["last_used_at"] is not None and created["key"].startswith(row["prefix"])
    assert (await api.delete(f"/api-keys/{created['id']}", headers=admin)).status_code == 204
    r = await api.get("/parcels", headers=shop)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]

    await add_user(api, "eve")
    token = (await login(api, "eve")).json()["access_token"]
    assert (await api.get("/parcels", headers=bearer(token))).status_code == 200
    assert (await api.patch("/users/eve", json={"enabled": False}, headers=admin)).status_code == 200
    assert (await api.get("/parcels", headers=bearer(token))).status_code == 401
    assert (await login(api, "eve")).status_code == 401
    # a role change applies to tokens already issued
    await add_user(api, "fay")
    token = (await login(api, "fay")).json()["access_token"]
    assert (await api.patch("/users/fay", json={"role": "viewer"}, headers=admin)).status_code == 200
    r = await api.post("/parcels", json=parcel("p-9"), headers=bearer(token))
    assert r.status_code == 403 and "viewer" in r.json()["detail"]


async def test_the_last_admin_cannot_lock_everyone_out(api):
    await add_user(api, "root", Role.admin)
    root = bearer((await login(api, "root")).json()["access_token"])
    for change in ({"enabled": False}, {"role": "viewer"}):
        r = await api.patch("/users/root", json=change, headers=root)
        assert r.status_code == 409 and "last enabled admin" in r.json()["detail"]
    r = await api.post("/users", json={"name": "second", "role": "admin"}, headers=root)
    assert r.status_code == 201 and len(r.json()["password"]) >= 16     # generated, shown once
    assert (await api.patch("/users/root", json={"role": "viewer"}, headers=root)).status_code == 200


async def test_password_brute_force_is_rate_limited_and_the_real_user_gets_back_in(api):
    await add_user(api, "gus")
    await add_user(api, "hal")
    for _ in range(5):
        assert (await login(api, "gus", "guess-guess-guess")).status_code == 401
    r = await login(api, "gus")            # even the right password: the brake holds
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert (await login(api, "hal")).status_code == 200   # another user from the same address
    brake = api.app.state.login_brake      # the window (300 s) passes: the brake lifts
    brake.clock = lambda: datetime.now(timezone.utc) + timedelta(seconds=301)
    assert (await login(api, "gus")).status_code == 200


async def test_the_brake_holds_across_replicas_and_restarts(db_url):
    """Three replicas behind a load balancer share one database: guesses spread over them still
    hit one limit (in-memory counters allowed three times as many), and a restart resets nothing."""
    first = _started(db_url)
    a = await first.__anext__()
    await add_user(a, "ivy")
    replicas = [a]
    gens = [first]
    for _ in range(2):
        gens.append(_started(db_url))
        replicas.append(await gens[-1].__anext__())
    try:
        answers = [(await login(replicas[i % 3], "ivy", "wrong-guess-x")).status_code for i in range(7)]
        assert answers == [401] * 5 + [429] * 2, answers
        assert [(await login(r, "ivy")).status_code for r in replicas] == [429] * 3   # even the right password
    finally:
        for g in gens:
            await g.aclose()
    async for restarted in _started(db_url):
        assert (await login(restarted, "ivy")).status_code == 429


async def test_client_address_limit_spans_user_names(tmp_path):
    async for api in _started(f"sqlite+aiosqlite:///{tmp_path}/f.db", login_max_failures_per_client=3):
        for name in ("a1", "a2", "a3"):
            assert (await login(api, name, "nope-nope-nope")).status_code == 401
        r = await login(api, "a4", "nope-nope-nope")
        assert r.status_code == 429 and "retry-after" in r.headers


async def test_hub_limited_dispatcher_cannot_touch_another_hub(api):
    await seed_two_hubs(api)
    mine = await headers_for(api, "dispatcher", ["hub-1"])
    assert [p["id"] for p in (await api.get("/parcels", headers=mine)).json()["items"]] == ["p-1"]
    assert [v["id"] for v in (await api.get("/vehicles", headers=mine)).json()["items"]] == ["drone-1"]
    assert (await api.get("/parcels/p-1", headers=mine)).status_code == 200
    refused = [
        await api.get("/parcels/p-2", headers=mine),
        await api.get("/parcels/p-2/history", headers=mine),
        await api.post("/parcels/p-2/transitions", json={"to": "returned", "reason": "x"}, headers=mine),
        await api.delete("/parcels/p-2", headers=mine),
        await api.post("/parcels", json=parcel("p-3", hub_id="hub-2"), headers=mine),
        await api.post("/parcels/import", content=b"id,weight_kg,size,hub_id,lat,lon,recipient_name,recipient_phone\n"
                       b"p-4,1,small,hub-2,52.5,13.4,A,+4930123456\n", headers={**mine, "content-type": "text/csv"}),
        await api.post("/vehicles/drone-2/commands", json={"action": "hold"}, headers=mine),
        await api.get("/vehicles/drone-2", headers=mine),
        await api.get("/hubs/hub-2", headers=mine),
        await api.post("/plans", json={}, headers=mine),          # plans span every hub
        await api.get("/missions", headers=mine),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [(r.status_code, r.text) for r in refused]
    assert "hub" in refused[0].json()["detail"]
    admin = await headers_for(api, "admin")
    assert (await api.get("/parcels/p-2", headers=admin)).json()["state"] == "created"   # untouched
    assert (await api.get("/parcels/p-4", headers=admin)).status_code == 404
    # its own hub works as usual
    assert (await api.post("/vehicles/drone-1/commands", json={"action": "hold"}, headers=mine)).status_code == 202
    assert (await api.post("/parcels", json=parcel("p-5"), headers=mine)).status_code == 201


async def test_operator_command_is_audited_with_its_actor(api):
    admin = await seed_two_hubs(api)
    await add_user(api, "ivy")
    ivy = bearer((await login(api, "ivy")).json()["access_token"])
    r = await api.post("/vehicles/drone-1/commands", json={"action": "hold"}, headers=ivy)
    assert r.status_code == 202
    viewer = await headers_for(api, "viewer")
    assert (await api.post("/vehicles/drone-1/commands", json={"action": "abort"}, headers=viewer)).status_code == 403
    assert (await api.patch("/vehicles/drone-1", json={"enabled": False}, headers=admin)).status_code == 200

    page = (await api.get("/audit", params={"path": "/vehicles/drone-1"}, headers=admin)).json()
    entries = page["items"]
    assert [(e["actor"], e["operation"], e["status"]) for e in entries] == [
        ("ivy", "POST /vehicles/{vehicle_id}/commands", 202),
        (entries[1]["actor"], "POST /vehicles/{vehicle_id}/commands", 403),
        (entries[2]["actor"], "PATCH /vehicles/{vehicle_id}", 200),
    ]
    hold = entries[0]
    assert hold["actor_kind"] == "user" and hold["role"] == "dispatcher" and hold["request"] == {"action": "hold"}
    assert hold["before"]["id"] == "drone-1"
    assert entries[1]["role"] == "viewer" and entries[1]["request"] == {"action": "abort"}
    assert entries[2]["before"]["enabled"] is True and entries[2]["after"]["enabled"] is False
    by_ivy = (await api.get("/audit", params={"actor": "ivy"}, headers=admin)).json()
    assert by_ivy["total"] == 1
    later = (await api.get("/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=admin)).json()
    assert later["total"] == 0
    # creation: the answer is the "after"; secrets never reach the log
    r = await api.post("/users", json={"name": "jo", "role": "viewer", "password": "x" * 16}, headers=admin)
    assert r.status_code == 201
    user_entry = (await api.get("/audit", params={"path": "/users"}, headers=admin)).json()["items"][-1]
    assert user_entry["request"]["password"] == "***" and user_entry["after"]["name"] == "jo"
    parcel_entry = (await api.get("/audit", params={"path": "/parcels"}, headers=admin)).json()["items"][0]
    assert parcel_entry["after"]["id"] and "handover_code" not in json.dumps(parcel_entry)
    assert (await api.get("/audit", headers=await headers_for(api, "dispatcher"))).status_code == 403


async def test_replicas_on_one_database_share_the_generated_signing_secret(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    async for a in _started(url):
        await add_user(a, "kim")
        token = (await login(a, "kim")).json()["access_token"]
        async for b in _started(url, run_migrations_on_start=False):
            assert (await b.get("/auth/me", headers=bearer(token))).json()["name"] == "kim"
    async for c in _started(url, auth_secret="configured-secret-" + "y" * 32):
        # a configured secret replaces the stored one: old tokens stop working (rotation)
        assert (await c.get("/auth/me", headers=bearer(token))).status_code == 401


async def test_tokens_minted_before_a_restart_still_verify_after_it(db_url):
    from ground_control.db import server_secrets

    async for a in _started(db_url):
        await add_user(a, "lea")
        token = (await login(a, "lea")).json()["access_token"]
    server_secrets._cache.clear()             # a fresh process
    async for b in _started(db_url):
        assert (await b.get("/auth/me", headers=bearer(token))).json()["name"] == "lea"


async def test_replicas_creating_the_secret_at_once_end_with_one(db_url):
    """Several replicas' first request at the same moment: every one gets the same key."""
    from ground_control.db import server_secrets
    from ground_control.db.session import make_engine

    async for _ in _started(db_url):          # migrated schema, no secret yet
        pass
    server_secrets._cache.clear()
    engines = [make_engine(db_url) for _ in range(4)]
    try:
        got = await asyncio.gather(*(server_secrets.engine_secret(e, "jwt-race") for e in engines))
    finally:
        for e in engines:
            await e.dispose()
    assert len(set(got)) == 1 and len(got[0]) == server_secrets.SECRET_BYTES


async def test_cors_closed_unless_configured(tmp_path):
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    async for api in _started(f"sqlite+aiosqlite:///{tmp_path}/a.db"):
        r = await api.options("/parcels", headers=pre)
        assert "access-control-allow-origin" not in r.headers
    async for api in _started(f"sqlite+aiosqlite:///{tmp_path}/b.db", cors_origins="https://console.example"):
        ok = await api.options("/parcels", headers={**pre, "Origin": "https://console.example"})
        assert ok.headers["access-control-allow-origin"] == "https://console.example"
        r = await api.options("/parcels", headers=pre)
        assert "access-control-allow-origin" not in r.headers


def test_short_secrets_are_refused_at_start():
    from pydantic import ValidationError

    for field in ("auth_secret", "bootstrap_api_key"):
        with pytest.raises(ValidationError, match="at least 32 characters"):
            Settings(**{field: "too-short"})


async def test_bootstrap_key_from_the_environment_is_an_admin(tmp_path):
    key = "k" * 40
    async for api in _started(f"sqlite+aiosqlite:///{tmp_path}/b.db", bootstrap_api_key=key):
        me = (await api.get("/auth/me", headers=bearer(key))).json()
        assert me["role"] == "admin" and me["kind"] == "api_key"


def test_cli_bootstraps_a_fresh_database(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    runner = CliRunner()
    out = runner.invoke(fleet_cli.main, ["users", "create", "root", "--role", "admin", "--database-url", url])
    assert out.exit_code == 0, out.output
    password = out.output.strip().splitlines()[-1]
    out = runner.invoke(fleet_cli.main, ["api-keys", "create", "shop", "--role", "integrator",
                                         "--database-url", url])
    assert out.exit_code == 0, out.output
    key = out.output.strip().splitlines()[-1]
    assert runner.invoke(fleet_cli.main, ["users", "create", "root", "--role", "admin", "--database-url", url]
                         ).exit_code != 0   # taken: a clear error, no traceback
    listed = runner.invoke(fleet_cli.main, ["users", "list", "--database-url", url]).output
    assert "root\tadmin" in listed

    async def use() -> None:
        async for api in _started(url):
            token = (await login(api, "root", password)).json()["access_token"]
            assert (await api.get("/auth/me", headers=bearer(token))).json()["role"] == "admin"
            assert (await api.get("/parcels", headers=bearer(key))).status_code == 200

    asyncio.run(use())
    assert runner.invoke(fleet_cli.main, ["api-keys", "revoke", "shop", "--database-url", url]).exit_code == 0
    assert runner.invoke(fleet_cli.main, ["users", "disable", "root", "--database-url", url]).exit_code == 0

    async def refused() -> None:
        async for api in _started(url):
            assert (await login(api, "root", password)).status_code == 401
            assert (await api.get("/parcels", headers=bearer(key))).status_code == 401

    asyncio.run(refused())
