"""Footprint reports. Role: ``viewer`` (read-only; every role above it may read too)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from ground_control.api.deps import QueryId, Session
from ground_control.footprint.report import day_rows, to_csv, totals

router = APIRouter(prefix="/reports", tags=["reports"])


class Format(StrEnum):
    json = "json"
    csv = "csv"


@router.get("/footprint", responses={200: {"content": {"text/csv": {}}, "description": "JSON or CSV"},
                                     422: {"description": "invalid date or format"}})
async def footprint_report(request: Request, session: Session,
                           date_: Annotated[date, Query(alias="date", description="UTC day, YYYY-MM-DD")],
                           format: Format = Format.json, hub_id: QueryId = None) -> Any:
    """Every parcel delivered on that UTC day with its energy (and whether measured by telemetry
    or from the model), CO2e, and the van baseline for the same distance; JSON adds totals and
    the factors in force."""
    rows = await day_rows(session, date_, hub_id)
    if format is Format.csv:
        return PlainTextResponse(to_csv(rows), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="footprint-{date_}.csv"'})
    s = request.app.state.settings
    return {"date": date_.isoformat(), "hub_id": hub_id, "totals": totals(rows), "parcels": rows,
            "factors": {"grid_gco2_per_kwh": s.grid_gco2_per_kwh, "van_gco2_per_km": s.van_gco2_per_km,
                        "charge_efficiency": s.charge_efficiency}}
