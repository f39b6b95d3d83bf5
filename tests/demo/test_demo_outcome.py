"""How the demo reports its end: a parcel still on its way is moving (with its state), never
lost; the wait scales with the work; the exit code fails only for a lost parcel or a time-out
with parcels under way, and says which."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ground_control.demo.outcome import classify, default_timeout_s, delivery_seconds, verdict
from ground_control.demo.runner import DemoOptions, DemoResult


def _p(pid: str, state: str, created="2026-12-01T10:00:00Z", updated="2026-12-01T10:00:42.5Z") -> dict:
    return {"id": pid, "state": state, "created_at": created, "updated_at": updated}


def test_every_parcel_lands_in_exactly_one_class_and_only_unknown_ones_are_lost():
    parcels = [_p("a", "delivered"), _p("b", "in_transit"), _p("c", "planned"), _p("d", "returned"),
               _p("e", "delivery_failed"), _p("f", "in_transit"), _p("g", "created")]
    o = classify({"a", "b", "c", "d", "e", "f", "g", "h"}, parcels)
    assert (o.delivered, o.returned, o.failed) == (1, 1, 1)
    assert o.moving == {"created": 1, "in_transit": 2, "planned": 1}
    assert o.lost == ["h"]          # the one ground control does not know
    assert o.delivered + o.returned + o.failed + sum(o.moving.values()) + len(o.lost) == 8
    assert o.delivery_s == {"a": 42.5}
    assert delivery_seconds(_p("b", "in_transit")) is None


def test_time_out_with_parcels_moving_is_a_failure_that_says_so_but_loses_nothing():
    o = classify({"a", "b"}, [_p("a", "delivered"), _p("b", "in_transit")])
    ok, why = verdict(o, timed_out=True, timeout_s=300)
    assert not ok and "timed out after 300 s" in why and "in_transit 1" in why
    assert "none lost" in why and "--timeout" in why and "LOST" not in why
    # parcels never planned are not "on their way": the planner's reason is the news
    o = classify({"a", "h"}, [_p("a", "delivered"), _p("h", "created")])
    ok, why = verdict(o, timed_out=True, timeout_s=300, waiting={"h": "too_heavy"})
    assert not ok and "1 still waiting to be planned (too_heavy 1)" in why and "--timeout" not in why
    assert verdict(classify({"a"}, [_p("a", "delivered")]), timed_out=False, timeout_s=300)[0]
    ok, why = verdict(classify({"a", "z"}, [_p("a", "delivered")]), timed_out=False, timeout_s=300)
    assert not ok and "LOST" in why and "z" in why


def test_default_timeout_grows_with_each_vehicles_share_of_the_parcels():
    small, big = default_timeout_s(20, 5, 20), default_timeout_s(60, 5, 20)
    assert 110 < small < big        # 110 s was the old fixed default that 60 parcels outran
    assert big >= 3 * 60            # 60 parcels on 5 vehicles took more than 110 s in the issue
    assert default_timeout_s(60, 10, 20) < big and default_timeout_s(60, 5, 40) < big
    assert DemoOptions(parcels=60, drones=3, robots=2).effective_timeout_s == big
    assert DemoOptions(timeout_s=77).effective_timeout_s == 77


def test_headless_cli_reports_moving_parcels_as_moving_with_wall_and_delivery_times(monkeypatch):
    from ground_control.demo import cli as demo_cli

    seen = {}

    async def fake_run(opts, on_update=None):
        seen["timeout"] = opts.effective_timeout_s
        return DemoResult(parcels=3, delivered=1, failed=0, lost=0, wall_s=300.2, moving={"in_transit": 2},
                          timed_out=True, timeout_s=opts.effective_timeout_s, delivery_s={"parcel-001": 31.5},
                          waiting={"parcel-009": "too_heavy"})

    monkeypatch.setattr(demo_cli, "run_demo", fake_run)
    out = CliRunner().invoke(demo_cli.demo, ["--headless", "--parcels", "60"])
    assert out.exit_code == 1
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["lost"] == 0 and last["moving"] == {"in_transit": 2} and last["timed_out"] is True
    assert last["delivery_s"] == {"parcel-001": 31.5} and last["wall_s"] == 300.2
    assert last["waiting"] == {"parcel-009": "too_heavy"}
    assert f"giving up after {seen['timeout']:.0f} s" in out.stderr and "--timeout" in out.stderr
    assert "2 on their way (in_transit 2" in out.stderr and "wall time 300.2 s" in out.stderr
    assert "median 31.5 s" in out.stderr and "parcel-009 still waiting to be planned: too_heavy" in out.stderr


def test_headless_cli_exit_code_is_zero_when_every_parcel_is_accounted_for(monkeypatch):
    from ground_control.demo import cli as demo_cli

    async def fake_run(opts, on_update=None):
        return DemoResult(parcels=2, delivered=1, returned=1, failed=0, lost=0, wall_s=50.0)

    monkeypatch.setattr(demo_cli, "run_demo", fake_run)
    out = CliRunner().invoke(demo_cli.demo, ["--headless", "--parcels", "2"])
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["ok"] is True
