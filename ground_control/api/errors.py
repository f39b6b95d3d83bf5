"""Map domain errors to HTTP answers with a reason: 404 unknown ids, 409 conflicts and illegal
transitions, 422 schema errors. Validation errors are re-rendered without the offending input,
which may be NaN or huge and would break JSON encoding (a 500) if echoed back."""

from __future__ import annotations

from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ground_control.api.handover import WrongHandoverCode
from ground_control.broker_admin.dynsec import BrokerAdminError
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


#: domain error -> (status, how to word it); a fixed string where the exception's own text
#: would leak internals (SQL) or means nothing to a client.
ANSWERS: dict[type[Exception], tuple[int, Callable[[Exception], str]]] = {
    NotFound: (404, str),
    Conflict: (409, str),
    WrongHandoverCode: (403, str),
    IllegalTransition: (409, str),
    Invalid: (422, str),
    GeofenceError: (422, lambda exc: f"invalid geofence: {exc}"),
    BrokerAdminError: (502, str),
    StaleDataError: (409, lambda _: "changed concurrently by the fleet; read it again and retry"),
    IntegrityError: (409, lambda _: "conflicts with existing data (duplicate id or a reference in use)"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _errors(exc)})

    async def _answer(_: Request, exc: Exception) -> JSONResponse:
        status, word = next(v for t, v in ANSWERS.items() if isinstance(exc, t))
        return JSONResponse(status_code=status, content={"detail": word(exc)})

    for exc_type in ANSWERS:
        app.add_exception_handler(exc_type, _answer)
