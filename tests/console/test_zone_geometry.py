"""The zone editor's pure geometry (ground_control/console/web/js/zones.js) in the browser that
runs it, without a fleet: the cases the end-to-end test does not reach (holes kept, a
MultiPolygon edited part by part, never below a triangle, the fence's other features untouched)."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from browser import launch, require_chromium

WEB = Path(__file__).resolve().parents[2] / "ground_control" / "console" / "web"
INCLUSION = {"type": "Feature", "properties": {"role": "inclusion"},
             "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}}
HOLED = {"type": "Feature", "properties": {"role": "exclusion", "name": "holed"},
         "geometry": {"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 1]],
                                                         [[1.5, 1.2], [1.6, 1.2], [1.6, 1.3], [1.5, 1.2]]]}}
MULTI = {"type": "Feature", "properties": {"role": "exclusion"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[[[3, 3], [4, 3], [4, 4], [3, 3]]],
                                                              [[[5, 5], [6, 5], [6, 6], [5, 5]]]]}}
DOC = {"type": "FeatureCollection", "features": [INCLUSION, HOLED, MULTI]}


@pytest.fixture(scope="module")
def zones() -> Iterator[Any]:
    """A page that imported zones.js from a plain static server; yields ``call(js_expr, arg)``."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(WEB))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{srv.server_port}/console.css")
            page.evaluate("async () => { window.z = await import('/js/zones.js'); }")
            yield lambda expr, arg=None: page.evaluate(f"(a) => {{ const z = window.z; return {expr}; }}", arg)
            browser.close()
    finally:
        srv.shutdown()


def test_every_exclusion_part_is_a_zone_and_the_service_area_is_not(zones) -> None:
    listed = zones("z.listZones([{id: 'f', hub_id: null, geojson: a}])", DOC)
    assert [(z["key"], z["feature"], z["part"]) for z in listed] == [("f#1", 1, None), ("f#2.0", 2, 0), ("f#2.1", 2, 1)]
    assert listed[0]["name"] == "holed" and listed[0]["ring"] == [[1, 1], [1, 2], [2, 2]]   # [lat, lon], open


def test_saving_a_ring_keeps_holes_other_parts_and_other_features(zones) -> None:
    out = zones("(() => { const [holed, part0] = z.listZones([{id: 'f', geojson: a}]);"
                " const d1 = z.withZone(a, holed, z.insertCorner(holed.ring, 2, [1.5, 1.0]));"
                " return [d1, z.withZone(a, part0, [[3, 3], [3, 5], [5, 5]])]; })()", DOC)
    holed, moved = out
    assert holed["features"][1]["geometry"]["coordinates"] == [
        [[1, 1], [2, 1], [2, 2], [1, 1.5], [1, 1]], HOLED["geometry"]["coordinates"][1]]   # closed, hole kept
    assert holed["features"][0] == INCLUSION and holed["features"][2] == MULTI
    assert moved["features"][2]["geometry"]["coordinates"] == [[[[3, 3], [5, 3], [5, 5], [3, 3]]],
                                                               MULTI["geometry"]["coordinates"][1]]


def test_a_zone_keeps_three_corners_and_removal_keeps_the_rest_of_the_fence(zones) -> None:
    assert zones("z.removeCorner([[0, 0], [0, 1], [1, 1]], 0)") == [[0, 0], [0, 1], [1, 1]]
    assert zones("z.removeCorner([[0, 0], [0, 1], [1, 1], [1, 0]], 1)") == [[0, 0], [1, 1], [1, 0]]
    gone = zones("z.listZones([{id: 'f', geojson: a}]).map((x) => z.withoutZone(a, x))", DOC)
    assert gone[0]["features"] == [INCLUSION, MULTI]
    assert gone[1]["features"][2]["geometry"]["coordinates"] == MULTI["geometry"]["coordinates"][1:]
    assert zones("z.withoutZone({type: 'FeatureCollection', features: [a]}, {feature: 0, part: null})", HOLED) is None


def test_a_click_picks_the_multipolygon_part_under_it(zones) -> None:
    assert zones("[z.contains([[3, 3], [3, 4], [4, 4]], [3.3, 3.7]), z.contains([[3, 3], [3, 4], [4, 4]], [3.7, 3.3])]") == [True, False]
