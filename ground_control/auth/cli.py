"""``fleet users ...`` and ``fleet api-keys ...``: manage credentials straight in the database
(works on a fresh database: it is migrated first). Commands that create a credential print it
on their LAST line, so scripts can take it with ``tail -n1``."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Awaitable, Callable

import click

from ground_control.auth.roles import Role

ROLES = click.Choice([r.value for r in Role])


def _run(database_url: str | None, fn: Callable[..., Awaitable[Any]]) -> Any:
    from ground_control.db.migrate import upgrade
    from ground_control.db.session import make_engine, make_sessionmaker
    from ground_control.settings import Settings

    url = Settings(**({"database_url": database_url} if database_url else {})).database_url
    upgrade(url)

    async def go() -> Any:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await fn(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except (ValueError, LookupError) as exc:   # Conflict / Invalid / NotFound carry the reason
        raise click.ClickException(str(exc)) from None


def _hubs(hub: tuple[str, ...]) -> list[str] | None:
    return list(hub) if hub else None


db_option = click.option("--database-url", default=None, help="overrides FLEET_DATABASE_URL / DATABASE_URL")
hub_option = click.option("--hub", multiple=True, help="limit to this hub (repeat for several); default: every hub")


@click.group("users")
def users() -> None:
    """Operators who log in with a password (POST /auth/token)."""


@users.command("create")
@click.argument("name")
@click.option("--role", type=ROLES, required=True)
@click.option("--password", default=None, help="default: prompt on a terminal, else generate one")
@click.option("--generate", is_flag=True, help="generate a random password (never prompt)")
@hub_option
@db_option
def users_create(name: str, role: str, password: str | None, generate: bool, hub: tuple[str, ...],
                 database_url: str | None) -> None:
    """Create user NAME; its password is printed on the last line."""
    from ground_control.auth import passwords, store

    if password is None:
        if not generate and sys.stdin.isatty():
            password = click.prompt("password", hide_input=True, confirmation_prompt=True)
        else:
            password = passwords.generate_password()

    async def create(session):  # type: ignore[no-untyped-def]
        await store.create_user(session, name, Role(role), password, _hubs(hub))
        await session.commit()

    _run(database_url, create)
    click.echo(f"created user {name} ({role}); log in at POST /auth/token. password:")
    click.echo(password)


@users.command("list")
@db_option
def users_list(database_url: str | None) -> None:
    """Every user with role, hubs and whether it is enabled."""
    from sqlalchemy import select

    from ground_control.db.models import User

    async def rows(session):  # type: ignore[no-untyped-def]
        return (await session.scalars(select(User).order_by(User.name))).all()

    for u in _run(database_url, rows):
        hubs = ",".join(u.hubs) if u.hubs is not None else "*"
        click.echo(f"{u.name}\t{u.role}\thubs={hubs}\t{'enabled' if u.enabled else 'disabled'}")


@users.command("disable")
@click.argument("name")
@db_option
def users_disable(name: str, database_url: str | None) -> None:
    """Disable user NAME: its tokens stop working at once."""
    from ground_control.db.models import User
    from ground_control.db.repositories import get_or_404

    async def disable(session):  # type: ignore[no-untyped-def]
        user = await get_or_404(session, User, name, "user")
        user.enabled = False
        await session.commit()

    _run(database_url, disable)
    click.echo(f"disabled user {name}")


@click.group("api-keys")
def api_keys() -> None:
    """API keys for integrations and scripts (Authorization: Bearer <key>)."""


@api_keys.command("create")
@click.argument("name")
@click.option("--role", type=ROLES, required=True)
@hub_option
@db_option
def keys_create(name: str, role: str, hub: tuple[str, ...], database_url: str | None) -> None:
    """Create API key NAME; the key is printed on the last line (shown only now)."""
    from ground_control.auth import store

    async def create(session):  # type: ignore[no-untyped-def]
        _, key = await store.create_api_key(session, name, Role(role), _hubs(hub))
        await session.commit()
        return key

    key = _run(database_url, create)
    click.echo(f"created API key {name} ({role}); it is shown only now:")
    click.echo(key)


@api_keys.command("list")
@db_option
def keys_list(database_url: str | None) -> None:
    """Every key (never the key itself): id, name, role, prefix, last use, revoked."""
    from sqlalchemy import select

    from ground_control.db.models import ApiKey

    async def rows(session):  # type: ignore[no-untyped-def]
        return (await session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all()

    for k in _run(database_url, rows):
        click.echo(f"{k.id}\t{k.name}\t{k.role}\t{k.prefix}...\tlast_used={k.last_used_at}\t"
                   f"{'revoked' if k.revoked_at else 'active'}")


@api_keys.command("revoke")
@click.argument("name_or_id")
@db_option
def keys_revoke(name_or_id: str, database_url: str | None) -> None:
    """Revoke a key: refused from the next request on."""
    from ground_control.auth import store

    async def revoke(session):  # type: ignore[no-untyped-def]
        row = await store.revoke_api_key(session, name_or_id)
        if row is None:
            raise LookupError(f"API key {name_or_id!r} not found")
        await session.commit()

    _run(database_url, revoke)
    click.echo(f"revoked API key {name_or_id}")
