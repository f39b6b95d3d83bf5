"""The state of the resource an API call names in its path, as plain JSON, for the audit
log's before/after. One resource per call: the most specific path parameter wins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.audit.redact import redact
from ground_control.db.models import ApiKey, Base, DeadLetter, Geofence, Hub, Parcel, User, Vehicle, VehicleTypeCosts

#: path parameter -> model whose primary key it is (checked in this order)
RESOURCES: tuple[tuple[str, type[Base]], ...] = (
    ("parcel_id", Parcel), ("vehicle_id", Vehicle), ("geofence_id", Geofence), ("dead_letter_id", DeadLetter),
    ("user_name", User), ("key_id", ApiKey), ("kind", VehicleTypeCosts), ("hub_id", Hub),
)
SKIP_COLUMNS = frozenset({"payload"})   # dead letters' raw bytes


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def as_json(row: Base) -> dict[str, Any]:
    cols = inspect(type(row)).columns
    return redact({c.key: _plain(getattr(row, c.key)) for c in cols if c.key not in SKIP_COLUMNS})


def names_resource(path_params: dict[str, Any]) -> bool:
    return any(p in path_params for p, _ in RESOURCES)


async def snapshot(session: AsyncSession, path_params: dict[str, Any]) -> dict[str, Any] | None:
    for param, model in RESOURCES:
        if param in path_params:
            try:
                row = await session.get(model, path_params[param])
            except Exception:  # noqa: BLE001 - an id of the wrong type: the handler answers it
                return None
            return as_json(row) if row is not None else None
    return None
