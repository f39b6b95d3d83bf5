"""The FastAPI application factory. The lifespan migrates the database (unless told not to),
opens the engine, and, with MQTT enabled, runs the runtime (ingest + dispatch) beside the API."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ground_control.api import errors
from ground_control.api.body_limit import BodySizeLimit
from ground_control.api.routers import dashboard, dead_letters, geofences, hubs, missions, parcels, plans, vehicles
from ground_control.api.routers import tracking, vehicle_costs
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.run_migrations_on_start:
            from ground_control.db.migrate import upgrade
            await asyncio.to_thread(upgrade, settings.database_url)
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        runtime = None
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
    )
    app.state.settings = settings
    app.state.wake_dispatch = None
    errors.install(app)
    app.add_middleware(BodySizeLimit, default_bytes=settings.max_body_bytes,
                       limits={"/parcels/import": settings.max_import_body_bytes})
    for r in (hubs.router, vehicles.router, vehicles.telemetry_router, parcels.router, geofences.router,
              missions.router, plans.router, dashboard.router, dead_letters.router, vehicle_costs.router,
              tracking.router):
        app.include_router(r)

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

    return app
