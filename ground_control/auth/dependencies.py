"""FastAPI side of authentication: ``authorize`` runs before every route of the app (attached
once, app-wide, in ``api.app``), resolves the bearer credential to a ``Principal`` on
``request.state.principal``, applies the policy table and the hub scope of path resources.
Handlers of ``handler``-scoped operations use ``hub_scope``/``require_hub``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy import select

from ground_control.audit.snapshots import snapshot
from ground_control.auth import store, tokens
from ground_control.auth.policy import Scope, decide, is_public
from ground_control.auth.principal import Principal
from ground_control.auth.secret import signing_secret
from ground_control.db.models import Hub, Mission, Parcel, Vehicle

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="lastmile-fleet"'}
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Two schemes over the one Authorization header, both declared in OpenAPI so Swagger's
# "Authorize" offers a login form (users) and a plain bearer field (API keys).
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False, scheme_name="OAuth2PasswordBearer",
                                     description="Users: log in with name and password for a short-lived token.")
api_key_scheme = HTTPBearer(auto_error=False, scheme_name="APIKey",
                            description="Integrations: Authorization: Bearer <API key>.")


def unauthorized(reason: str) -> HTTPException:
    return HTTPException(status_code=401, detail=reason, headers=CHALLENGE)


def forbidden(reason: str) -> HTTPException:
    return HTTPException(status_code=403, detail=reason)


async def jwt_secret(request: Request) -> bytes:
    app_state = request.app.state
    secret = getattr(app_state, "auth_jwt_secret", None)
    if secret is None:
        configured = app_state.settings.auth_secret
        secret = await signing_secret(configured.get_secret_value() if configured else None, app_state.engine)
        app_state.auth_jwt_secret = secret
    return secret


async def principal_from(request: Request, credential: str) -> Principal:
    """The principal behind a bearer credential; 401 when it is expired, forged, revoked or its
    user is disabled."""
    async with request.app.state.sessionmaker() as session:
        if tokens.looks_like_jwt(credential):
            try:
                name = tokens.subject(await jwt_secret(request), credential)
            except tokens.InvalidToken as exc:
                raise unauthorized(str(exc)) from None
            user = await store.active_user(session, name)
            if user is None:
                raise unauthorized("user unknown or disabled")
            return store.user_principal(user)
        principal = await store.principal_for_key(session, credential)
        if principal is None:
            raise unauthorized("invalid or revoked API key")
        return principal


async def _hub_of_path_resource(request: Request, params: dict[str, Any]) -> tuple[str, str | None] | None:
    """(what, hub id) of the parcel/vehicle/hub/mission the path names; None when it names none
    or it does not exist (the handler answers 404)."""
    async with request.app.state.sessionmaker() as session:
        if "parcel_id" in params:
            hub = await session.scalar(select(Parcel.hub_id).where(Parcel.id == params["parcel_id"]))
            return None if hub is None else (f"parcel {params['parcel_id']!r}", hub)
        if "vehicle_id" in params:
            hub = await session.scalar(select(Vehicle.hub_id).where(Vehicle.id == params["vehicle_id"]))
            return None if hub is None else (f"vehicle {params['vehicle_id']!r}", hub)
        if "mission_id" in params:
            hub = await session.scalar(select(Vehicle.hub_id).join(Mission, Mission.vehicle_id == Vehicle.id)
                                       .where(Mission.id == params["mission_id"]))
            return None if hub is None else (f"mission {params['mission_id']!r}", hub)
        if "hub_id" in params:
            exists = await session.scalar(select(Hub.id).where(Hub.id == params["hub_id"]))
            return None if exists is None else (f"hub {params['hub_id']!r}", params["hub_id"])
    return None


async def authorize(
    request: Request,
    _token: Annotated[str | None, Depends(oauth2_scheme)],
    _key: Annotated[HTTPAuthorizationCredentials | None, Depends(api_key_scheme)],
) -> None:
    """App-wide dependency: public operations pass; others need a credential whose role the
    policy allows (401 / 403 with the reason otherwise)."""
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    method = request.method
    if is_public(method, template):
        return
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    principal: Principal | None = None
    if header:
        if scheme.lower() != "bearer" or not credential.strip():
            raise unauthorized("Authorization header must be 'Bearer <access token or API key>'")
        principal = await principal_from(request, credential.strip())
        request.state.principal = principal
    decision = decide(principal, method, template)
    if decision.status == 401:
        raise unauthorized(decision.reason)
    if not decision.allowed:
        raise forbidden(decision.reason)
    assert principal is not None and decision.rule is not None
    if principal.scoped and decision.rule.scope is Scope.path:
        found = await _hub_of_path_resource(request, dict(request.path_params))
        if found is not None and not principal.may_touch_hub(found[1]):
            raise forbidden(f"{found[0]} belongs to hub {found[1]!r}, outside this principal's hubs")
    if method in STATE_CHANGING:   # the audit log's "before"
        async with request.app.state.sessionmaker() as session:
            request.state.audit_before = await snapshot(session, dict(request.path_params))


def current_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise unauthorized("authentication required")
    return principal


def hub_scope(request: Request) -> tuple[str, ...] | None:
    """The hubs the caller is limited to (None: every hub). For ``handler``-scoped lists."""
    principal = getattr(request.state, "principal", None)
    return principal.hubs if principal is not None else None


def require_hub(request: Request, hub_id: str | None, what: str = "") -> None:
    """403 when the caller is limited to hubs and ``hub_id`` is not one of them."""
    hubs = hub_scope(request)
    if hubs is not None and hub_id not in hubs:
        raise forbidden(f"{what or 'hub'} {hub_id!r} is outside this principal's hubs ({', '.join(hubs)})")
