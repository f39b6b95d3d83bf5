"""``fleet certs``: the TLS material of a fleet's broker, made with ``broker_admin.certs``.

``fleet certs init DIR`` writes a CA (``ca.crt``, ``ca.key``: keep the key offline), the
broker's certificate (``broker.crt``/``broker.key``) and ground control's client certificate
(``clients/ground-control.crt``/``.key``). ``fleet certs vehicle ID --dir DIR`` adds one
vehicle's client certificate, whose common name is the vehicle id."""

from __future__ import annotations

import re
from pathlib import Path

import click

from fleet_protocol.topics import VEHICLE_ID_PATTERN
from ground_control.broker_admin.certs import CA_KEY, make_ca, make_client_cert, make_server_cert

DEFAULT_HOSTS = ("mosquitto", "localhost", "127.0.0.1")


@click.group("certs")
def certs() -> None:
    """TLS certificates for the broker, ground control and vehicles."""


@certs.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", "hosts", multiple=True, help=f"A name or IP the broker is reached by (repeat; default {', '.join(DEFAULT_HOSTS)}).")
@click.option("--ground-control", "gc_user", default="ground-control", show_default=True,
              help="Ground control's broker username (its client certificate's common name).")
def init(directory: Path, hosts: tuple[str, ...], gc_user: str) -> None:
    """Write a new CA, the broker's certificate and ground control's client certificate."""
    if (directory / CA_KEY).exists():
        raise click.ClickException(f"{directory / CA_KEY} exists: a new CA would orphan every certificate it signed")
    ca = make_ca(directory)
    # localhost always: the broker's own entrypoint administers it over TLS from inside
    names = list(dict.fromkeys([*(hosts or DEFAULT_HOSTS), "localhost"]))
    server = make_server_cert(directory, directory, names)
    gc = make_client_cert(directory, directory / "clients", gc_user)
    for label, path in (("CA", ca.cert), ("CA key (keep offline)", ca.key), ("broker", server.cert),
                        ("broker key", server.key), ("ground control", gc.cert), ("ground control key", gc.key)):
        click.echo(f"{label}: {path}")


@certs.command("vehicle")
@click.argument("vehicle_id")
@click.option("--dir", "directory", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True,
              help="The folder `fleet certs init` wrote.")
@click.option("--days", type=click.IntRange(1, 3650), default=365, show_default=True)
def vehicle(vehicle_id: str, directory: Path, days: int) -> None:
    """Write a client certificate for VEHICLE_ID (for the broker's mutual-TLS listener)."""
    if not re.match(VEHICLE_ID_PATTERN, vehicle_id):
        raise click.BadParameter(f"not a vehicle id ({VEHICLE_ID_PATTERN})", param_hint="VEHICLE_ID")
    if not (directory / CA_KEY).exists():
        raise click.ClickException(f"no {CA_KEY} in {directory}: run `fleet certs init {directory}` first")
    pair = make_client_cert(directory, directory / "clients", vehicle_id, days=days)
    click.echo(f"certificate: {pair.cert}")
    click.echo(f"key: {pair.key}")
