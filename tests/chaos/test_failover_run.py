"""The failover benchmark end to end: three replicas, the hub owner kill -9'ed mid-delivery,
every parcel judged by the recorder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ground_control.embedded.broker import mosquitto_binary

sys.path.append(str(Path(__file__).resolve().parents[1] / "ground"))
from gc_helpers import postgres_available  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FAILOVER = [sys.executable, str(ROOT / "benchmarks" / "failover.py")]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(mosquitto_binary() is None, reason="needs a private mosquitto")
@pytest.mark.skipif(not postgres_available(), reason="replicas share one PostgreSQL database")
def test_killing_the_hub_owner_loses_and_doubles_nothing() -> None:
    run = subprocess.run([*FAILOVER, "--parcels", "8", "--kills", "1", "--drones", "2", "--robots", "1",
                          "--every", "8", "--seed", "2"], capture_output=True, text=True, timeout=840, cwd=ROOT)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert {"replicas", "kills", "parcels", "delivered", "lost", "duplicated_missions", "takeover_s_max"} <= result.keys()
    assert (result["replicas"], result["kills"], result["parcels"]) == (3, 1, 8)
    assert (result["lost"], result["duplicated_missions"]) == (0, 0), run.stderr[-4000:]
    assert result["takeover_s_max"] is not None and result["takeover_s_max"] <= result["bound_s"] + 5, run.stderr[-4000:]
    assert run.returncode == 0, run.stderr[-4000:]
