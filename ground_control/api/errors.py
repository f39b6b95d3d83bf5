"""Map domain errors to HTTP answers with a reason: 404 unknown ids, 409 conflicts and illegal
transitions, 422 schema errors. Validation errors are re-rendered without the offending input,
which may be NaN or huge and would break JSON encoding (a 500) if echoed back."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ground_control.db.repositories import Conflict, Invalid, NotFound
from ground_control.domain.geofence import GeofenceError
from ground_control.domain.parcel_lifecycle import IllegalTransition


def _errors(exc: RequestValidationError) -> list[dict[str, object]]:
    out = []
    for e in exc.errors():
        out.append({
            "loc": [str(x) for x in e.get("loc", ())],
            "msg": str(e.get("msg", "invalid")),
            "type": str(e.get("type", "value_error")),
        })
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _errors(exc)})

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(Invalid)
    async def _invalid(_: Request, exc: Invalid) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(IllegalTransition)
    async def _illegal(_: Request, exc: IllegalTransition) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(GeofenceError)
    async def _geofence(_: Request, exc: GeofenceError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": f"invalid geofence: {exc}"})

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": "changed concurrently by the fleet; read it again and retry"})

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": "conflicts with existing data (duplicate id or a reference in use)"})
