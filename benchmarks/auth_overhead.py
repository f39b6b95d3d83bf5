"""What authentication and the audit trail cost per request: latency of a read (GET /parcels)
and a write (POST /parcels) with an API key and with a user's access token, against the same
app with the auth dependency switched off (no principal, so no audit row either) in the same run.

    .venv/bin/python benchmarks/auth_overhead.py --requests 300 [--database-url URL]

In-process (httpx ASGI transport, one client, sequential): the figures are the server's own
work without network or uvicorn. Prints one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sys

# this folder holds a vrplib.py that would shadow the vrplib package PyVRP imports
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import httpx  # noqa: E402

from ground_control.api.app import create_app  # noqa: E402
from ground_control.auth import store  # noqa: E402
from ground_control.auth.bootstrap import bearer, ensure_api_key_async  # noqa: E402
from ground_control.auth.dependencies import authorize  # noqa: E402
from ground_control.auth.roles import Role  # noqa: E402
from ground_control.settings import Settings  # noqa: E402

HUB = {"id": "bench-hub", "lat": 52.52, "lon": 13.405}


def parcel() -> dict[str, Any]:
    return {"id": f"bp-{uuid.uuid4().hex[:10]}", "weight_kg": 1.0, "size": "small", "hub_id": HUB["id"],
            "lat": 52.53, "lon": 13.41, "recipient": {"name": "B", "phone": "+4930123456"}}


async def one(c: httpx.AsyncClient, headers: dict[str, str], write: bool) -> float:
    t0 = time.perf_counter()
    r = await (c.post("/parcels", json=parcel(), headers=headers) if write
               else c.get("/parcels", params={"limit": 10}, headers=headers))
    assert r.status_code in (200, 201), r.text
    return (time.perf_counter() - t0) * 1000


def summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 2), "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 2)}


async def interleaved(app: Any, c: httpx.AsyncClient, n: int, variants: dict[str, dict[str, str] | None],
                      write: bool) -> dict[str, dict[str, float]]:
    """Each round runs every variant once, in turn, so drift (a growing table, a busy machine)
    hits them alike. ``None`` headers: the auth dependency switched off (the baseline)."""
    ms: dict[str, list[float]] = {k: [] for k in variants}
    for i in range(n):
        names = list(variants)
        for name in names[i % len(names):] + names[:i % len(names)]:
            headers = variants[name]
            if headers is None:
                app.dependency_overrides[authorize] = lambda: None
            ms[name].append(await one(c, headers or {}, write))
            app.dependency_overrides.clear()
    return {k: summary(v) for k, v in ms.items()}


async def main(n: int, database_url: str | None) -> dict[str, Any]:
    url = database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='lmf-auth-')}/fleet.db"
    app = create_app(Settings(database_url=url, mqtt_enabled=False))
    out: dict[str, Any] = {"requests": n, "database": url.split(":")[0]}
    async with app.router.lifespan_context(app):
        key = bearer(await ensure_api_key_async(app.state.sessionmaker, f"bench-{uuid.uuid4().hex[:6]}", "admin"))
        name = f"bench-{uuid.uuid4().hex[:6]}"
        async with app.state.sessionmaker() as s:
            await store.create_user(s, name, Role.admin, "bench-password-123")
            await s.commit()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as c:
            assert (await c.post("/hubs", json=HUB, headers=key)).status_code == 201
            token = (await c.post("/auth/token", data={"username": name, "password": "bench-password-123"})).json()
            user = bearer(token["access_token"])
            variants = {"baseline_no_auth": None, "api_key": key, "access_token": user}
            for what, write in (("read", False), ("write", True)):
                await interleaved(app, c, 10, variants, write)      # warm-up
                for name, fig in (await interleaved(app, c, n, variants, write)).items():
                    out[f"{what}_{name}"] = fig
            t0 = time.perf_counter()
            for _ in range(5):
                await c.post("/auth/token", data={"username": name, "password": "bench-password-123"})
            out["login_ms"] = round((time.perf_counter() - t0) * 200, 1)
    for what in ("read", "write"):
        base = out[f"{what}_baseline_no_auth"]["p50_ms"]
        out[f"{what}_api_key_overhead_ms_p50"] = round(out[f"{what}_api_key"]["p50_ms"] - base, 2)
        out[f"{what}_access_token_overhead_ms_p50"] = round(out[f"{what}_access_token"]["p50_ms"] - base, 2)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main(args.requests, args.database_url))))
