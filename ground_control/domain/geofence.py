"""GeoJSON (RFC 7946) geofence validation with shapely. Pure: takes the parsed JSON, returns
the inclusion polygon, exclusion polygons and ceiling, or raises :class:`GeofenceError` with a
reason an operator can act on (which feature, which ring, what is wrong).

:func:`protocol_geofence` is THE rule for what a stored geofence may be: the API runs it before
storing, dispatch runs it before planning, so a fence the API accepts is always one missions can
carry (fleet_protocol's exclusion and vertex limits, the wire budget of a mission message)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.validation import explain_validity

from fleet_protocol.envelope import MAX_PAYLOAD_BYTES
from fleet_protocol.geo import Geofence, LatLon, Polygon as ProtoPolygon

MAX_FEATURES = 1_000
MAX_EXCLUSIONS = Geofence.model_fields["exclusions"].metadata[0].max_length
MAX_POSITIONS = 10_000          # per ring (the protocol allows 10,000 vertices per polygon)
#: positions in the whole document, counted before any geometry work so a huge polygon is
#: refused in milliseconds instead of after seconds of shapely
MAX_TOTAL_POSITIONS = 20_000
#: a feature's ``properties`` as compact JSON: they are stored and echoed back, not megabytes
MAX_PROPERTIES_BYTES = 4_096
#: the protocol geofence as it goes on the wire inside every mission: at most this share of a
#: message (MAX_PAYLOAD_BYTES), leaving the rest for stops and paths
MAX_WIRE_BYTES = MAX_PAYLOAD_BYTES * 6 // 10
DEFAULT_CEILING_M = 120.0


class GeofenceError(ValueError):
    """Invalid geofence GeoJSON; the message is the reason."""


@dataclass(frozen=True)
class ParsedGeofence:
    inclusion: ShapelyPolygon
    exclusions: tuple[ShapelyPolygon, ...]
    ceiling_m: float

    def to_protocol(self) -> Geofence:
        def conv(ring: Any) -> ProtoPolygon:
            coords = list(ring.coords)[:-1]
            return ProtoPolygon(vertices=[LatLon(lat=y, lon=x) for x, y, *_ in coords])

        holes = [conv(h) for h in self.inclusion.interiors]
        return Geofence(
            inclusion=conv(self.inclusion.exterior),
            exclusions=holes + [conv(p.exterior) for p in self.exclusions],
            ceiling_m=self.ceiling_m,
        )


def _position(pos: Any, where: str) -> tuple[float, float]:
    if not isinstance(pos, (list, tuple)) or not 2 <= len(pos) <= 3:
        raise GeofenceError(f"{where}: a position is [lon, lat] or [lon, lat, alt], got {pos!r}"[:300])
    for c in pos:
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
            raise GeofenceError(f"{where}: coordinates must be finite numbers, got {c!r}"[:300])
    lon, lat = float(pos[0]), float(pos[1])
    if not -180 <= lon <= 180:
        raise GeofenceError(f"{where}: longitude {lon} is outside [-180, 180]")
    if not -90 <= lat <= 90:
        raise GeofenceError(f"{where}: latitude {lat} is outside [-90, 90]")
    return lon, lat


def _ring(ring: Any, where: str) -> list[tuple[float, float]]:
    if not isinstance(ring, list):
        raise GeofenceError(f"{where}: a linear ring is an array of positions")
    if len(ring) < 4:
        raise GeofenceError(f"{where}: a linear ring needs at least 4 positions, got {len(ring)}")
    if len(ring) > MAX_POSITIONS:
        raise GeofenceError(f"{where}: more than {MAX_POSITIONS} positions")
    pts = [_position(p, f"{where}[{i}]") for i, p in enumerate(ring)]
    if pts[0] != pts[-1]:
        raise GeofenceError(f"{where}: ring is not closed (first position {pts[0]} != last {pts[-1]})")
    return pts


def _polygon(coords: Any, where: str) -> ShapelyPolygon:
    if not isinstance(coords, list) or not coords:
        raise GeofenceError(f"{where}: Polygon coordinates are a non-empty array of rings")
    rings = [_ring(r, f"{where}.coordinates[{i}]") for i, r in enumerate(coords)]
    poly = ShapelyPolygon(rings[0], rings[1:])
    if not poly.is_valid:
        raise GeofenceError(f"{where}: invalid polygon: {explain_validity(poly)}")
    if poly.area <= 0:
        raise GeofenceError(f"{where}: polygon has no area")
    return poly


def _geometry(geom: Any, where: str) -> list[ShapelyPolygon]:
    if not isinstance(geom, dict):
        raise GeofenceError(f"{where}: geometry must be an object")
    kind = geom.get("type")
    coords = geom.get("coordinates")
    if kind == "Polygon":
        return [_polygon(coords, f"{where}.geometry")]
    if kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise GeofenceError(f"{where}.geometry: MultiPolygon coordinates are a non-empty array")
        return [_polygon(c, f"{where}.geometry.coordinates[{i}]") for i, c in enumerate(coords)]
    raise GeofenceError(f"{where}: geometry type must be Polygon or MultiPolygon, got {kind!r}"[:300])


def parse_geofence(doc: Any) -> ParsedGeofence:
    """Validate a Feature or FeatureCollection. Exactly one feature has ``role: inclusion`` (a
    lone Feature defaults to it) and is a Polygon; others have ``role: exclusion`` and must
    intersect the inclusion area. ``ceiling_m`` comes from the inclusion feature's properties."""
    if not isinstance(doc, dict):
        raise GeofenceError("geofence must be a GeoJSON object")
    kind = doc.get("type")
    if kind == "Feature":
        features = [doc]
    elif kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list) or not features:
            raise GeofenceError("FeatureCollection.features must be a non-empty array")
        if len(features) > MAX_FEATURES:
            raise GeofenceError(f"more than {MAX_FEATURES} features")
    else:
        raise GeofenceError(f"GeoJSON type must be Feature or FeatureCollection, got {kind!r}"[:300])
    _check_size(features)

    inclusion: ShapelyPolygon | None = None
    ceiling = DEFAULT_CEILING_M
    exclusions: list[ShapelyPolygon] = []
    for i, feat in enumerate(features):
        where = f"features[{i}]" if kind == "FeatureCollection" else "feature"
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            raise GeofenceError(f"{where}: must be an object with type Feature")
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            raise GeofenceError(f"{where}: properties must be an object or null")
        if len(json.dumps(props, separators=(",", ":"))) > MAX_PROPERTIES_BYTES:
            raise GeofenceError(f"{where}: properties are larger than {MAX_PROPERTIES_BYTES} bytes as JSON")
        default_role = "inclusion" if len(features) == 1 else None
        role = props.get("role", default_role)
        if role not in ("inclusion", "exclusion"):
            raise GeofenceError(f"{where}: properties.role must be 'inclusion' or 'exclusion'")
        polys = _geometry(feat.get("geometry"), where)
        if role == "inclusion":
            if inclusion is not None:
                raise GeofenceError(f"{where}: only one inclusion feature is allowed")
            if feat["geometry"].get("type") != "Polygon":
                raise GeofenceError(f"{where}: the inclusion area must be a Polygon")
            inclusion = polys[0]
            c = props.get("ceiling_m", DEFAULT_CEILING_M)
            if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or not 0 < c <= 10_000:
                raise GeofenceError(f"{where}: properties.ceiling_m must be a number in (0, 10000]")
            ceiling = float(c)
        else:
            exclusions.extend(polys)
    if inclusion is None:
        raise GeofenceError("no feature with role 'inclusion'")
    if len(exclusions) + len(inclusion.interiors) > MAX_EXCLUSIONS:
        raise GeofenceError(f"{len(exclusions) + len(inclusion.interiors)} exclusion polygons (exclusion features' "
                            f"polygons plus holes of the inclusion area); at most {MAX_EXCLUSIONS}")
    for j, ex in enumerate(exclusions):
        if not ex.intersects(inclusion):
            raise GeofenceError(f"exclusion polygon #{j} does not intersect the inclusion area")
    return ParsedGeofence(inclusion=inclusion, exclusions=tuple(exclusions), ceiling_m=ceiling)


def _check_size(features: list[Any]) -> None:
    """Count positions (any list of numbers at the bottom of ``coordinates``) before shapely
    sees them; stops counting as soon as the limit is passed."""
    total = 0
    stack: list[Any] = []
    for feat in features:
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        if isinstance(geom, dict):
            stack.append(geom.get("coordinates"))
    while stack:
        node = stack.pop()
        if not isinstance(node, list) or not node:
            continue
        if not isinstance(node[0], list):    # a position
            total += 1
            if total > MAX_TOTAL_POSITIONS:
                raise GeofenceError(f"more than {MAX_TOTAL_POSITIONS} positions in the geofence")
            continue
        stack.extend(node)


def protocol_geofence(doc: Any) -> Geofence:
    """The geofence missions will carry, or :class:`GeofenceError` saying why ``doc`` cannot be
    one. CPU-bound for large fences: call it off the event loop (``asyncio.to_thread``)."""
    parsed = parse_geofence(doc)
    try:
        fence = parsed.to_protocol()
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "geofence"
        raise GeofenceError(f"not a protocol geofence: {loc}: {first['msg']}") from None
    size = len(fence.model_dump_json(exclude_none=True))
    if size > MAX_WIRE_BYTES:
        raise GeofenceError(f"geofence is {size} bytes on the wire; a mission carries at most {MAX_WIRE_BYTES}")
    return fence
