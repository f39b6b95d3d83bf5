"""``fleet serve`` and ``fleet db ...`` (imported lazily by the top-level ``fleet`` CLI)."""

from __future__ import annotations

import click

from ground_control.settings import Settings


def _settings(database_url: str | None, **overrides: object) -> Settings:
    kw = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        kw["database_url"] = database_url
    return Settings(**kw)


@click.command("serve")
@click.option("--host", default=None, help="bind address (FLEET_HOST)")
@click.option("--port", type=int, default=None, help="HTTP port (FLEET_PORT)")
@click.option("--database-url", default=None, help="overrides FLEET_DATABASE_URL / DATABASE_URL")
@click.option("--mqtt-url", default=None, help="overrides FLEET_MQTT_URL / MQTT_URL; a clustered broker: its nodes, comma-separated")
@click.option("--no-mqtt", is_flag=True, help="API only: no ingest, no dispatch")
def serve(host: str | None, port: int | None, database_url: str | None, mqtt_url: str | None, no_mqtt: bool) -> None:
    """Run the ground-control API with MQTT ingest and dispatch (migrates the database first)."""
    import uvicorn

    from ground_control.api.app import create_app
    from ground_control.db.migrate import upgrade

    settings = _settings(database_url, host=host, port=port, mqtt_url=mqtt_url, mqtt_enabled=False if no_mqtt else None)
    upgrade(settings.database_url)
    settings = settings.model_copy(update={"run_migrations_on_start": False})
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                timeout_graceful_shutdown=settings.shutdown_grace_s)


@click.group("db")
def db() -> None:
    """Database migrations (Alembic, scripts shipped in the package)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.option("--database-url", default=None)
def db_upgrade(revision: str, database_url: str | None) -> None:
    """Upgrade the schema to REVISION (default: head)."""
    from ground_control.db.migrate import upgrade

    s = _settings(database_url)
    upgrade(s.database_url, revision)
    click.echo(f"upgraded {s.database_url.split('@')[-1]} to {revision}")


@db.command("current")
@click.option("--database-url", default=None)
@click.option("-v", "--verbose", is_flag=True)
def db_current(database_url: str | None, verbose: bool) -> None:
    """Show the schema revision of the database."""
    from ground_control.db.migrate import current

    current(_settings(database_url).database_url, verbose)


# ignore_unknown_options: a relative revision such as -1 is an argument, not an option
@db.command("downgrade", context_settings={"ignore_unknown_options": True})
@click.argument("revision")
@click.option("--database-url", default=None)
def db_downgrade(revision: str, database_url: str | None) -> None:
    """Downgrade the schema to REVISION (e.g. -1 or base)."""
    from ground_control.db.migrate import downgrade

    downgrade(_settings(database_url).database_url, revision)
    click.echo(f"downgraded to {revision}")
