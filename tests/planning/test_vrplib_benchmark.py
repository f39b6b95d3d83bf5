"""The VRPLIB benchmark's gap is taken against the best-known routes' cost under the instance's own
rounding rule, not against the .sol header (which some public instances state scaled)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "vrplib.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_vrplib", _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_vrplib"] = mod       # dataclasses look their module up while defining
    spec.loader.exec_module(mod)
    return mod


def _write_cvrp(tmp: Path, stated_cost: str) -> Path:
    """Four clients on a line each side of the depot, capacity for two: the optimum is two
    routes of 10 + 10 + 20 = 40 each (80 in all)."""
    coords = [(0, 0), (10, 0), (20, 0), (-10, 0), (-20, 0)]
    lines = ["NAME : tiny", "TYPE : CVRP", f"DIMENSION : {len(coords)}",
             "EDGE_WEIGHT_TYPE : EUC_2D", "CAPACITY : 2", "NODE_COORD_SECTION"]
    lines += [f"{i + 1} {x} {y}" for i, (x, y) in enumerate(coords)]
    lines += ["DEMAND_SECTION"] + [f"{i + 1} {0 if i == 0 else 1}" for i in range(len(coords))]
    lines += ["DEPOT_SECTION", "1", "-1", "EOF"]
    vrp = tmp / "tiny.vrp"
    vrp.write_text("\n".join(lines) + "\n")
    # BKS: 0-1-2-0 (10+10+20) and 0-3-4-0 (same): 80
    (tmp / "tiny.sol").write_text(f"Route #1: 1 2\nRoute #2: 3 4\nCost {stated_cost}\n")
    return vrp


def test_gap_is_against_the_bks_routes_not_a_scaled_header(bench, tmp_path):
    path = _write_cvrp(tmp_path, stated_cost="8000000")    # the header states the cost x1e5
    line = bench.run(path, seconds=0.5, seed=1)
    assert line["bks"] == pytest.approx(80.0)
    assert line["bks_stated_ratio"] == pytest.approx(1e5)
    assert line["cost"] == pytest.approx(80.0)
    assert line["gap_pct"] == pytest.approx(0.0)          # not -99.999 %
    assert line["greedy_gap_pct"] >= 0.0


def test_large_profile_summary_says_when_the_short_budget_is_not_enough(bench):
    lines = [{"instance": "I", "budget_s": 10.0, "gap_pct": 9.0, "bare_gap_pct": 8.8},
             {"instance": "I", "budget_s": 30.0, "gap_pct": 6.0, "bare_gap_pct": 6.1},
             {"instance": "I", "budget_s": 60.0, "gap_pct": 4.5, "bare_gap_pct": 4.4}]
    s = bench.summarise_large(lines, enough_pp=0.5)
    assert s["short_budget_enough"] is False
    assert s["gain_pp_over_short"] == {"30.0": 3.0, "60.0": 4.5}
    flat = [dict(ln, gap_pct=2.0) for ln in lines]
    assert bench.summarise_large(flat, enough_pp=0.5)["short_budget_enough"] is True


def test_large_profile_picks_the_600_to_1000_client_instances(bench, tmp_path):
    assert bench.client_count(_write_cvrp(tmp_path, "80")) == 4
    bench_dir = Path("/work/shared/bench")
    if not bench_dir.is_dir():
        pytest.skip("shared benchmark instances not present")
    large = sorted(p.stem for p in bench_dir.glob("*/*.vrp")
                   if bench.LARGE[0] <= bench.client_count(p) <= bench.LARGE[1])
    assert large == ["C1_10_1", "RC2_10_1"]
