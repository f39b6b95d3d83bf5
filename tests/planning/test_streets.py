import math

import numpy as np
import pytest

from ground_control.planning.streets import StreetRouter, build_street_graph


def test_grid_streets_route_along_the_network():
    # two crossing streets (noded at the crossing) and one that stops 0.5 m short of another
    lines = [np.array([[0.0, 0.0], [200.0, 0.0]]), np.array([[100.0, -100.0], [100.0, 100.0]]),
             np.array([[200.5, 0.0], [200.5, 100.0]])]
    net = build_street_graph(lines, snap_m=1.0)
    pts = np.array([[0.0, 5.0], [100.0, 95.0], [200.5, 90.0], [50.0, 3.0]])
    router = StreetRouter(pts, net)
    d = router.distances()
    # 5 m to the street, 100 m east, 95 m north (the foot of the perpendicular is the endpoint)
    assert d[0, 1] == pytest.approx(5 + 100 + 95)
    assert d[0, 2] == pytest.approx(5 + 200.25 + 90, abs=0.5)
    assert d[0, 3] == pytest.approx(5 + 50 + 3)          # same segment: along it
    assert np.allclose(d, d.T)
    path = router.path(0, 1)
    assert path[0].tolist() == [0.0, 5.0] and path[-1].tolist() == [100.0, 95.0]
    assert np.hypot(*np.diff(path, axis=0).T).sum() == pytest.approx(d[0, 1])
