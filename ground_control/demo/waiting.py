"""Why a parcel is still waiting to be planned, as ground control stores it on the parcel
(``waiting_reason``): the demo reads it through the API like any client."""

from __future__ import annotations

from typing import Any, Mapping

NOT_PLANNED_YET = "not planned yet"


def waiting_reason(parcel: Mapping[str, Any]) -> str:
    """The parcel's stored ``waiting_reason``, or that the dispatcher has not looked at it yet."""
    return str(parcel.get("waiting_reason") or NOT_PLANNED_YET)
