"""Write the JSON Schemas of every message type to a folder (``fleet protocol-schema``)."""

from __future__ import annotations

import json
from pathlib import Path

from fleet_protocol.envelope import json_schemas


def export(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in sorted(json_schemas().items()):
        path = folder / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
