"""The FastAPI application factory. The lifespan migrates the database (unless told not to),
opens the engine, and, with MQTT enabled, runs the runtime (ingest + dispatch) beside the API."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ground_control.api import errors
from ground_control.api.body_limit import BodySizeLimit
from ground_control.api.routers import dead_letters, geofences, hubs, missions, parcels, plans, vehicles
from ground_control.api.routers import broker_credentials, signing, tracking, vehicle_costs
from ground_control.broker_admin.factory import make_broker_admin
from ground_control.broker_admin.provisioner import BrokerAdmin
from ground_control.audit.middleware import AuditTrail
from ground_control.audit.router import router as audit_router
from ground_control.audit.writer import AuditWriter
from ground_control.auth.dependencies import authorize
from ground_control.auth.openapi import install_public_security
from ground_control.auth.login_brake import LoginBrake
from ground_control.auth.router import router as auth_router
from ground_control.console import router as console
from ground_control.console.live import LiveFeed
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.settings import Settings
from ground_control.footprint.router import router as footprint_router
from ground_control.webhooks.router import router as webhooks_router

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    broker_admin = make_broker_admin(settings)   # a misconfiguration fails here, at start

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.run_migrations_on_start:
            from ground_control.db.migrate import upgrade
            await asyncio.to_thread(upgrade, settings.database_url)
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        if settings.bootstrap_api_key is not None:
            from ground_control.auth.bootstrap import apply_bootstrap_key
            await apply_bootstrap_key(app.state.sessionmaker, settings.bootstrap_api_key.get_secret_value())
        await _load_generated_secrets(app, settings)
        # the console's one live feed: runs from the start in a real deployment (it also derives
        # alerts), otherwise from the first console that connects
        app.state.console_feed = LiveFeed(app.state.sessionmaker, settings)
        if settings.mqtt_enabled:
            app.state.console_feed.start()
        runtime = None
        if broker_admin.managed:
            await _ensure_own_broker_account(broker_admin, settings)
        if settings.mqtt_enabled:
            from ground_control.runtime import Runtime
            runtime = Runtime(settings, app.state.sessionmaker)
            await runtime.start()
            # replan trigger: new parcels / vehicle changes over the API wake the dispatcher at
            # once; without it they wait for the next dispatch interval
            app.state.wake_dispatch = runtime.wake if settings.replan_on_new_parcels else None
        app.state.runtime = runtime
        try:
            yield
        finally:
            await app.state.console_feed.stop()
            if runtime is not None:
                await runtime.stop()
            await engine.dispose()

    # FastAPIOffline: FastAPI whose /docs and /redoc load Swagger UI and ReDoc from files shipped in
    # the package instead of a CDN, so they work on a field network without internet
    app = FastAPIOffline(
        title="lastmile-fleet ground control",
        version="0.1.0",
        description="Parcels, vehicles, hubs, geofences, missions and events of a last-mile delivery fleet.",
        lifespan=lifespan,
        swagger_ui_parameters={"validatorUrl": None},   # no call to the online validator either
        # every route of the app, present and future, passes the one policy table (auth.policy):
        # a route without a rule is refused for everyone
        dependencies=[Depends(authorize)],
    )
    app.state.settings = settings
    app.state.broker_admin = broker_admin
    app.state.wake_dispatch = None
    app.state.login_brake = LoginBrake.from_settings(settings)
    app.state.audit_writer = AuditWriter(lambda: app.state.sessionmaker)
    errors.install(app)
    app.add_middleware(AuditTrail)
    app.add_middleware(BodySizeLimit, default_bytes=settings.max_body_bytes,
                       limits={"/parcels/import": settings.max_import_body_bytes})
    if settings.cors_origin_list:   # closed unless configured: no Access-Control-* headers at all
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin_list, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    for r in (auth_router, hubs.router, vehicles.router, vehicles.telemetry_router, parcels.router, geofences.router,
              missions.router, plans.router, dead_letters.router, vehicle_costs.router,
              broker_credentials.router, signing.router, audit_router, webhooks_router, footprint_router,
              tracking.router):
        app.include_router(r)
    console.install(app)

    @app.get("/health", tags=["meta"], responses={503: {"description": "a part is down: see `down`"}})
    async def health() -> JSONResponse:
        """200 when ground control can do its job; 503 with ``ok: false`` and ``down`` naming the
        parts that are not (``database`` unreachable; ``mqtt`` enabled but not connected). MQTT
        disabled by configuration is not a fault."""
        db_ok = True
        try:
            async with app.state.sessionmaker() as s:
                await asyncio.wait_for(s.execute(text("SELECT 1")), 5.0)
        except Exception:  # noqa: BLE001 - health reports, never raises
            db_ok = False
        rt = app.state.runtime
        mqtt_ok = bool(rt and rt.connected)
        down = [name for name, ok in (("database", db_ok), ("mqtt", mqtt_ok or not settings.mqtt_enabled)) if not ok]
        body = {"ok": not down, "down": down, "database": db_ok, "mqtt": mqtt_ok, "mqtt_enabled": settings.mqtt_enabled}
        return JSONResponse(body, status_code=503 if down else 200)

    install_public_security(app)
    return app


async def _load_generated_secrets(app: FastAPI, settings: Settings) -> None:
    """Read (or create) the database-kept secrets once, before any request. Created lazily, the
    first requests each held a pool connection while asking for a second one to create the
    secret, and two of them at once exhausted SQLite's pool of two: every request then hung
    until the pool's timeout. A database that is down now leaves them to that lazy path."""
    from ground_control.auth.secret import signing_secret
    from ground_control.db.server_secrets import engine_secret
    try:
        if settings.handover_secret is None:
            await engine_secret(app.state.engine, "handover")
        configured = settings.auth_secret.get_secret_value() if settings.auth_secret else None
        app.state.auth_jwt_secret = await signing_secret(configured, app.state.engine)
    except Exception as exc:  # noqa: BLE001 - start anyway; the first request tries again
        log.warning("generated secrets not loaded at start (%s); the first requests will load them", exc)


async def _ensure_own_broker_account(broker_admin: BrokerAdmin, settings: Settings) -> None:
    """With FLEET_BROKER_ADMIN=dynsec, ground control's own MQTT account and role are made (or
    their password updated) before it connects. A broker that is not up yet is logged, not
    fatal: the MQTT link keeps retrying, and the next start tries again."""
    from ground_control.broker_admin.dynsec import BrokerAdminError

    if not settings.mqtt_username or settings.mqtt_password is None:
        log.warning("FLEET_BROKER_ADMIN=dynsec but no FLEET_MQTT_USERNAME/PASSWORD: ground control's own broker "
                    "account is not provisioned")
        return
    try:
        await broker_admin.ensure_ground_control(settings.mqtt_username, settings.mqtt_password.get_secret_value())
    except BrokerAdminError as exc:
        log.error("could not provision ground control's broker account: %s", exc)
