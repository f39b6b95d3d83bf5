"""The chaos benchmark end to end: one short round with a real fault, judged by the recorder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ground_control.embedded.broker import mosquitto_binary

ROOT = Path(__file__).resolve().parents[2]
CHAOS = [sys.executable, str(ROOT / "benchmarks" / "chaos.py")]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(mosquitto_binary() is None, reason="the chaos rounds kill and restart a private mosquitto")
def test_one_round_with_ground_control_killed_mid_delivery_loses_nothing() -> None:
    run = subprocess.run(
        [*CHAOS, "--rounds", "1", "--parcels", "4",
         "--drones", "2", "--robots", "1", "--faults", "gc_kill9", "--seed", "3"],
        capture_output=True, text=True, timeout=840, cwd=ROOT)
    last = run.stdout.strip().splitlines()[-1]
    result = json.loads(last)
    assert {"rounds", "faults", "parcels", "delivered", "failed", "lost", "stranded", "delivered_twice"} <= result.keys()
    assert result["rounds"] == 1 and result["faults"] == ["gc_kill9"] and result["parcels"] == 4
    assert (result["lost"], result["stranded"], result["delivered_twice"]) == (0, 0, 0), run.stderr[-4000:]
    assert result["delivered"] + result["failed"] == 4, run.stderr[-4000:]
    assert run.returncode == 0


def test_an_unknown_fault_is_refused_before_anything_starts() -> None:
    run = subprocess.run([*CHAOS, "--faults", "gc_kill9,meteor_strike"], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert run.returncode == 2
    assert "meteor_strike" in run.stderr and "broker_kill9" in run.stderr   # says what exists
