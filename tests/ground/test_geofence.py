"""GeoJSON geofence validation (pure)."""

import time

import pytest

from ground_control.domain.geofence import GeofenceError, parse_geofence, protocol_geofence

SQUARE = [[13.3, 52.4], [13.5, 52.4], [13.5, 52.6], [13.3, 52.6], [13.3, 52.4]]
NOFLY = [[13.4, 52.5], [13.45, 52.5], [13.45, 52.55], [13.4, 52.55], [13.4, 52.5]]


def fc(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def feat(coords, role=None, kind="Polygon", **props):
    p = dict(props)
    if role:
        p["role"] = role
    return {"type": "Feature", "properties": p, "geometry": {"type": kind, "coordinates": coords}}


def test_valid_collection_to_protocol():
    g = parse_geofence(fc(feat([SQUARE], "inclusion", ceiling_m=90), feat([[NOFLY]], "exclusion", kind="MultiPolygon")))
    proto = g.to_protocol()
    assert g.ceiling_m == 90 and len(proto.exclusions) == 1 and len(proto.inclusion.vertices) == 4


def test_single_feature_defaults_to_inclusion():
    assert parse_geofence(feat([SQUARE])).ceiling_m == 120


@pytest.mark.parametrize("doc,reason", [
    (feat([[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]), "Self-intersection"),
    (feat([[[0, 0], [1, 0], [1, 1], [0, 1]]]), "not closed"),
    (feat([[[0, 0], [1, 0], [0, 0]]]), "at least 4 positions"),
    (feat([[[0, 0], [200, 0], [1, 1], [0, 0]]]), "longitude 200"),
    (feat([[[0, 0], [1, 95], [1, 1], [0, 0]]]), "latitude 95"),
    (feat([[[0, 0], [1, "x"], [1, 1], [0, 0]]]), "finite numbers"),
    ({"type": "Point", "coordinates": [0, 0]}, "Feature or FeatureCollection"),
    (fc(feat([SQUARE], "exclusion")), "no feature with role 'inclusion'"),
    (fc(feat([SQUARE], "inclusion"), feat([[[20, 20], [21, 20], [21, 21], [20, 21], [20, 20]]], "exclusion")), "does not intersect"),
    (fc(feat([SQUARE]), feat([NOFLY])), "properties.role"),
    (feat([SQUARE], ceiling_m=-5), "ceiling_m"),
])
def test_invalid(doc, reason):
    with pytest.raises(GeofenceError, match=reason):
        parse_geofence(doc)


def _squares(n: int, size: float = 0.001) -> list:
    """``n`` small disjoint squares inside SQUARE, as MultiPolygon coordinates."""
    out = []
    for i in range(n):
        x, y = 13.31 + (i % 100) * 0.0015, 52.41 + (i // 100) * 0.0015
        out.append([[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]])
    return out


def test_more_exclusions_than_the_protocol_carries_is_refused():
    """1,500 exclusions in ONE MultiPolygon feature: the feature limit does not see them, the
    protocol allows 1,000; the fence must be refused here, not break dispatch later."""
    doc = fc(feat([SQUARE], "inclusion"), feat(_squares(1_500), "exclusion", kind="MultiPolygon"))
    with pytest.raises(GeofenceError, match="at most 1000"):
        protocol_geofence(doc)
    ok = fc(feat([SQUARE], "inclusion"), feat(_squares(1_000), "exclusion", kind="MultiPolygon"))
    assert len(protocol_geofence(ok).exclusions) == 1_000


def test_huge_polygon_is_refused_by_counting_before_geometry():
    """100 exclusion rings of 9,999 positions each (each ring within the per-ring limit, 1e6
    positions in all) is refused by counting, in well under a second, not after shapely."""
    ring = [[13.31 + 1e-7 * i, 52.41] for i in range(9_998)] + [[13.31, 52.42], [13.31, 52.41]]
    doc = fc(feat([SQUARE], "inclusion"), *[feat([ring], "exclusion") for _ in range(100)])
    started = time.perf_counter()
    with pytest.raises(GeofenceError, match="more than 20000 positions"):
        protocol_geofence(doc)
    assert time.perf_counter() - started < 1.0


def test_large_properties_are_refused():
    with pytest.raises(GeofenceError, match="properties are larger than 4096 bytes"):
        protocol_geofence(feat([SQUARE], note="x" * 5_000))
    assert protocol_geofence(feat([SQUARE], note="x" * 1_000)).ceiling_m == 120
