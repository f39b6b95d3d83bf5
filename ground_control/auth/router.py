"""Auth endpoints. Roles (see ``policy``): ``POST /auth/token`` public (rate-limited per client
address and per user name); ``GET /auth/me`` any principal; ``/users`` and ``/api-keys``
admin only."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from ground_control.api.deps import Limit, Offset, Order, Session
from ground_control.api.schemas import Page
from ground_control.auth import passwords, store, tokens
from ground_control.auth.dependencies import current_principal, jwt_secret
from ground_control.auth.login_brake import LoginBrake
from ground_control.auth.schemas import (
    ApiKeyCreate, ApiKeyCreated, ApiKeyOut, MeOut, TokenOut, UserCreate, UserCreated, UserOut, UserUpdate,
)
from ground_control.auth.roles import Role
from ground_control.db.models import ApiKey, Hub, User, utcnow
from ground_control.db.repositories import Conflict, Invalid, NotFound, SortOrder, get_or_404, paginate

router = APIRouter(tags=["auth"])
ERR = {404: {"description": "unknown user or key"}, 409: {"description": "name taken"},
       422: {"description": "invalid input"}}


def _too_many(retry_after: float) -> HTTPException:
    return HTTPException(status_code=429, detail="too many failed logins; try again later",
                         headers={"Retry-After": str(int(retry_after + 0.999))})


@router.post("/auth/token", response_model=TokenOut,
             responses={401: {"description": "wrong name or password, or user disabled"},
                        429: {"description": "too many failed logins from this address or for this user"}})
async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, session: Session) -> TokenOut:
    """OAuth2 password flow: a short-lived bearer access token for a user."""
    brake: LoginBrake = request.app.state.login_brake
    client = request.client.host if request.client else "unknown"
    name = form.username[:64]
    wait = await brake.wait_s(session, name, client)
    if wait is not None:
        raise _too_many(wait)
    user = await session.get(User, name)
    # argon2 takes ~50 ms of CPU: off the event loop, so logins do not stall other requests
    ok = await asyncio.to_thread(passwords.verify_password, user.password_hash if user else None,
                                 form.password[:passwords.MAX_LENGTH])
    if not ok or user is None or not user.enabled:
        await brake.failed(session, name, client)
        raise HTTPException(status_code=401, detail="wrong user name or password, or user disabled",
                            headers={"WWW-Authenticate": "Bearer"})
    await brake.succeeded(session, name)
    user.last_login_at = utcnow()
    await session.commit()
    ttl = request.app.state.settings.access_token_ttl_s
    token = tokens.issue(await jwt_secret(request), user.name, utcnow(), ttl)
    return TokenOut(access_token=token, expires_in=ttl, role=user.role, hubs=user.hubs)


@router.get("/auth/me", response_model=MeOut)
async def me(request: Request) -> MeOut:
    """Who the credential in this request belongs to."""
    p = current_principal(request)
    return MeOut(name=p.name, kind=p.kind, role=p.role, hubs=list(p.hubs) if p.hubs is not None else None)


async def _check_hubs(session: Session, hubs: list[str] | None) -> None:
    if hubs:
        known = set((await session.scalars(select(Hub.id).where(Hub.id.in_(hubs)))).all())
        missing = sorted(set(hubs) - known)
        if missing:
            raise Invalid(f"unknown hubs: {', '.join(missing)}")


@router.post("/users", status_code=201, response_model=UserCreated, responses=ERR)
async def create_user(body: UserCreate, session: Session) -> UserCreated:
    """A new user; without a password one is generated and returned once."""
    await _check_hubs(session, body.hubs)
    password = body.password or passwords.generate_password()
    user = await store.create_user(session, body.name, body.role, password, body.hubs)
    await session.commit()
    out = UserCreated.model_validate(user)
    out.password = None if body.password else password
    return out


@router.get("/users", response_model=Page[UserOut])
async def list_users(session: Session, limit: Limit = 50, offset: Offset = 0, order: Order = SortOrder.asc) -> dict:
    return await paginate(session, select(User), limit, offset, order_by=(User.name,), order=order)


@router.get("/users/{user_name}", response_model=UserOut, responses=ERR)
async def get_user(user_name: str, session: Session) -> User:
    return await get_or_404(session, User, user_name[:64], "user")


@router.patch("/users/{user_name}", response_model=UserOut, responses=ERR)
async def update_user(user_name: str, body: UserUpdate, session: Session) -> User:
    """Disable (``enabled: false``: its tokens stop working at once), re-enable, change role,
    hubs or password."""
    user = await get_or_404(session, User, user_name[:64], "user")
    loses_admin = user.role == Role.admin.value and user.enabled and (
        (body.role is not None and body.role is not Role.admin) or body.enabled is False)
    if loses_admin and not await _another_admin(session, user.name):
        raise Conflict("this is the last enabled admin; create another admin first (nobody could manage users)")
    if body.role is not None:
        user.role = body.role.value
    if body.enabled is not None:
        user.enabled = body.enabled
    if body.password is not None:
        user.password_hash = passwords.hash_password(body.password)
    if body.all_hubs:
        user.hubs = None
    elif body.hubs is not None:
        await _check_hubs(session, body.hubs)
        user.hubs = sorted(set(body.hubs))
    await session.commit()
    return user


async def _another_admin(session: Session, besides: str) -> bool:
    """Is there an admin left (user or unrevoked key) when ``besides`` stops being one?"""
    user = await session.scalar(select(User.name).where(
        User.role == Role.admin.value, User.enabled.is_(True), User.name != besides).limit(1))
    key = await session.scalar(select(ApiKey.id).where(
        ApiKey.role == Role.admin.value, ApiKey.revoked_at.is_(None)).limit(1))
    return user is not None or key is not None


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated, responses=ERR)
async def create_api_key(body: ApiKeyCreate, session: Session) -> ApiKeyCreated:
    """A new API key; the answer holds the key, the only time it is shown."""
    await _check_hubs(session, body.hubs)
    row, key = await store.create_api_key(session, body.name, body.role, body.hubs)
    await session.commit()
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(row).model_dump(), "key": key})


@router.get("/api-keys", response_model=Page[ApiKeyOut])
async def list_api_keys(session: Session, limit: Limit = 50, offset: Offset = 0, order: Order = SortOrder.asc) -> dict:
    return await paginate(session, select(ApiKey), limit, offset, order_by=(ApiKey.created_at, ApiKey.id), order=order)


@router.delete("/api-keys/{key_id}", status_code=204, responses=ERR)
async def revoke_api_key(key_id: str, session: Session) -> Response:
    """Revoke a key (by id or name): refused from the next request on; kept on record."""
    row = await store.revoke_api_key(session, key_id[:64])
    if row is None:
        raise NotFound(f"API key {key_id!r} not found")
    await session.commit()
    return Response(status_code=204)
