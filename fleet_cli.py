"""``fleet``: one command line for every part of lastmile-fleet.

Subcommands live in the package they belong to and are imported only when invoked, so an edge
agent install never imports the ground-control stack (FastAPI, SQLAlchemy, PyVRP).
"""

from __future__ import annotations

import importlib
import logging
import os

import click

#: subcommand -> "module:click_command"
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("ground_control.cli:serve", "Run the ground-control API service."),
    "db": ("ground_control.cli:db", "Database migrations (Alembic)."),
    "users": ("ground_control.auth.cli:users", "Operators who log in: create, list, disable."),
    "api-keys": ("ground_control.auth.cli:api_keys", "API keys for integrations: create, list, revoke."),
    "demo": ("ground_control.demo.cli:demo", "Everything embedded on one machine: broker, ground control, simulated fleet."),
    "agent": ("edge_agent.cli:agent", "Run the edge agent for one vehicle."),
    "sim": ("sitl.cli:sim", "Simulated MAVLink vehicles (or real ArduPilot SITL)."),
    "protocol-schema": ("fleet_protocol.cli:protocol_schema", "Export the message JSON Schemas."),
    "certs": ("ground_control.broker_admin.cli:certs", "TLS certificates for the broker, ground control and vehicles."),
    "keys": ("ground_control.signing.cli:keys", "Ground control's signing key (show the public key to pin on agents)."),
    "verify-proof": ("fleet_keys.verify_proof:verify_proof", "Verify a signed proof of delivery (file or URL)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        target, _ = SUBCOMMANDS[cmd_name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise click.ClickException(
                f"'fleet {cmd_name}' needs an optional dependency that is not installed ({exc.name}); "
                "install lastmile-fleet with the matching extra, e.g. pip install 'lastmile-fleet[ground,edge,sim]'"
            ) from exc
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in sorted(SUBCOMMANDS.items())])


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@click.group(cls=LazyGroup)
@click.version_option(package_name="lastmile-fleet", prog_name="fleet")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
              default=lambda: os.environ.get("FLEET_LOG_LEVEL", "INFO"), show_default="INFO (FLEET_LOG_LEVEL)")
def main(log_level: str) -> None:
    """lastmile-fleet: last-mile parcel delivery by drones and ground robots."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


if __name__ == "__main__":
    main()
