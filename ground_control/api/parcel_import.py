"""Bulk parcel import: CSV rows or GeoJSON Point features -> validated ParcelCreate models,
with every row's errors collected (the import is all or nothing)."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from pydantic import ValidationError

from ground_control.api.schemas import ParcelCreate

MAX_ROWS = 10_000
CSV_COLUMNS = ("id", "weight_kg", "size", "hub_id", "lat", "lon", "address", "recipient_name",
               "recipient_phone", "recipient_email", "earliest", "latest", "priority",
               "length_cm", "width_cm", "height_cm")


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (not CSV, not GeoJSON, too many rows...)."""


def _errs(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(x) for x in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()]


def _record(flat: dict[str, Any]) -> dict[str, Any]:
    """Flat column/property names -> the nested ParcelCreate shape. Empty cells are absent."""
    f = {k: v for k, v in flat.items() if v not in (None, "")}
    rec: dict[str, Any] = {k: f[k] for k in ("id", "weight_kg", "size", "hub_id", "lat", "lon", "address", "priority") if k in f}
    rec["recipient"] = {k: f[f"recipient_{k}"] for k in ("name", "phone", "email") if f"recipient_{k}" in f}
    if "earliest" in f or "latest" in f:
        rec["time_window"] = {k: f.get(k) for k in ("earliest", "latest")}
    if any(k in f for k in ("length_cm", "width_cm", "height_cm")):
        rec["dims_cm"] = {k: f.get(k) for k in ("length_cm", "width_cm", "height_cm")}
    for k in ("recipient", "time_window", "dims_cm"):
        if isinstance(flat.get(k), dict):   # GeoJSON properties may nest them already
            rec[k] = flat[k]
    return rec


def _validate(rows: list[tuple[int, dict[str, Any]]]) -> tuple[list[ParcelCreate], list[dict[str, Any]]]:
    good: list[ParcelCreate] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row_no, rec in rows:
        rid = rec.get("id") if isinstance(rec.get("id"), str) else None
        try:
            p = ParcelCreate.model_validate(rec)
        except ValidationError as exc:
            errors.append({"row": row_no, "id": rid, "errors": _errs(exc)})
            continue
        if p.id in seen:
            errors.append({"row": row_no, "id": p.id, "errors": [f"id {p.id!r} appears more than once in the file"]})
            continue
        seen.add(p.id)
        good.append(p)
    return good, errors


def parse_csv(text: str) -> tuple[list[ParcelCreate], list[dict[str, Any]]]:
    if "\x00" in text:
        raise ImportFormatError("CSV contains NUL characters")
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise ImportFormatError(f"not CSV: {exc}") from None
    if not header:
        raise ImportFormatError("CSV is empty (a header row is required)")
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise ImportFormatError(f"unknown CSV columns {unknown[:10]}; known: {list(CSV_COLUMNS)}")
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        for i, raw in enumerate(reader, start=2):   # row 1 is the header
            if len(rows) >= MAX_ROWS:
                raise ImportFormatError(f"more than {MAX_ROWS} rows")
            if None in raw:
                rows.append((i, {"__extra__": True}))
                continue
            rows.append((i, _record(raw)))
    except csv.Error as exc:
        raise ImportFormatError(f"CSV error: {exc}") from None
    if not rows:
        raise ImportFormatError("CSV has a header but no rows")
    good, errors = _validate([(i, r) for i, r in rows if "__extra__" not in r])
    errors += [{"row": i, "id": None, "errors": ["more cells than header columns"]} for i, r in rows if "__extra__" in r]
    return good, errors


def parse_geojson(doc: Any) -> tuple[list[ParcelCreate], list[dict[str, Any]]]:
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ImportFormatError("expected a GeoJSON FeatureCollection of Point features")
    feats = doc.get("features")
    if not isinstance(feats, list) or not feats:
        raise ImportFormatError("FeatureCollection.features must be a non-empty array")
    if len(feats) > MAX_ROWS:
        raise ImportFormatError(f"more than {MAX_ROWS} features")
    rows: list[tuple[int, dict[str, Any]]] = []
    pre_errors: list[dict[str, Any]] = []
    for i, feat in enumerate(feats):
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        props = feat.get("properties") if isinstance(feat, dict) else None
        coords = geom.get("coordinates") if isinstance(geom, dict) else None
        if not isinstance(feat, dict) or feat.get("type") != "Feature" or not isinstance(geom, dict) or geom.get("type") != "Point":
            pre_errors.append({"row": i, "id": None, "errors": ["feature must be a Feature with a Point geometry"]})
            continue
        if (not isinstance(coords, list) or not 2 <= len(coords) <= 3
                or any(isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) for c in coords)):
            pre_errors.append({"row": i, "id": None, "errors": ["Point coordinates must be [lon, lat] finite numbers"]})
            continue
        if not isinstance(props, dict):
            pre_errors.append({"row": i, "id": None, "errors": ["properties must be an object"]})
            continue
        rec = _record(props)
        rec["lon"], rec["lat"] = coords[0], coords[1]
        rows.append((i, rec))
    good, errors = _validate(rows)
    return good, sorted(pre_errors + errors, key=lambda e: e["row"])
