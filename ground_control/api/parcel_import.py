"""Bulk parcel import: CSV rows or GeoJSON Point features -> validated ParcelCreate models,
with every row's errors collected (the import is all or nothing)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ground_control.api.schemas import ParcelCreate

MAX_ROWS = 10_000
CSV_COLUMNS = ("id", "weight_kg", "size", "hub_id", "lat", "lon", "address", "recipient_name",
               "recipient_phone", "recipient_email", "earliest", "latest", "priority",
               "length_cm", "width_cm", "height_cm")


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (not CSV, not GeoJSON, too many rows...)."""


@dataclass
class ParsedImport:
    """What a file holds, before the database is asked: the valid parcels with their row
    numbers, every row's errors, and the hub each row names (valid or not), so a reference to
    an unknown hub is reported on its row even when the row has other errors too."""

    good: list[tuple[int, ParcelCreate]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    hub_ids: dict[int, str] = field(default_factory=dict)

    @property
    def parcels(self) -> list[ParcelCreate]:
        return [p for _, p in self.good]

    def check_references(self, known_hubs: set[str], existing_ids: set[str]) -> None:
        """Add an error to every row naming a hub not in ``known_hubs`` or an id already stored."""
        by_row = {e["row"]: e for e in self.errors}
        ids = {row: p.id for row, p in self.good}
        for row in sorted(set(self.hub_ids) | set(ids)):
            problems = []
            if ids.get(row) in existing_ids:
                problems.append(f"parcel {ids[row]!r} already exists")
            hub = self.hub_ids.get(row)
            if hub is not None and hub not in known_hubs:
                problems.append(f"hub_id: origin hub {hub!r} does not exist")
            if not problems:
                continue
            if row in by_row:
                by_row[row]["errors"].extend(problems)
            else:
                by_row[row] = {"row": row, "id": ids.get(row), "errors": problems}
                self.errors.append(by_row[row])
        self.errors.sort(key=lambda e: e["row"])
        self.good = [(row, p) for row, p in self.good if row not in by_row]


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


def _validate(rows: list[tuple[int, dict[str, Any]]]) -> ParsedImport:
    out = ParsedImport()
    seen: set[str] = set()
    for row_no, rec in rows:
        rid = rec.get("id") if isinstance(rec.get("id"), str) else None
        if isinstance(rec.get("hub_id"), str):
            out.hub_ids[row_no] = rec["hub_id"]
        try:
            p = ParcelCreate.model_validate(rec)
        except ValidationError as exc:
            out.errors.append({"row": row_no, "id": rid, "errors": _errs(exc)})
            continue
        if p.id in seen:
            out.errors.append({"row": row_no, "id": p.id, "errors": [f"id {p.id!r} appears more than once in the file"]})
            continue
        seen.add(p.id)
        out.good.append((row_no, p))
    return out


def parse_csv(text: str) -> ParsedImport:
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
    parsed = _validate([(i, r) for i, r in rows if "__extra__" not in r])
    parsed.errors += [{"row": i, "id": None, "errors": ["more cells than header columns"]} for i, r in rows if "__extra__" in r]
    parsed.errors.sort(key=lambda e: e["row"])
    return parsed


def parse_geojson(doc: Any) -> ParsedImport:
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
    parsed = _validate(rows)
    parsed.errors = sorted(pre_errors + parsed.errors, key=lambda e: e["row"])
    for e in pre_errors:   # a feature with a bad geometry still gets its unknown hub reported
        props = feats[e["row"]].get("properties") if isinstance(feats[e["row"]], dict) else None
        if isinstance(props, dict) and isinstance(props.get("hub_id"), str):
            parsed.hub_ids[e["row"]] = props["hub_id"]
    return parsed
