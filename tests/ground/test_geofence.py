"""GeoJSON geofence validation (pure)."""

import pytest

from ground_control.domain.geofence import GeofenceError, parse_geofence

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
