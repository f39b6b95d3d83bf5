"""``fleet protocol-schema``."""

from __future__ import annotations

from pathlib import Path

import click

from fleet_protocol.schema_export import export


@click.command("protocol-schema")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/schemas"), show_default=True)
def protocol_schema(out: Path) -> None:
    """Write one JSON Schema file per message type."""
    for path in export(out):
        click.echo(path)
