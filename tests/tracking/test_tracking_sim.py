"""End to end on the simulator: a parcel flown by a simulated drone with its real edge agent
shows on its public tracking page the vehicle and a live ETA while it heads to the recipient,
and at the end the proof of delivery (time, drop position against the target, confirmation)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))

from eta_accuracy import run  # noqa: E402


@pytest.mark.timeout(300)
async def test_a_parcel_delivered_on_the_sim_shows_its_proof_on_its_page():
    result, [track] = await run(parcels=1, drones=1, robots=0, speedup=20, timeout_s=240, keep_statuses=True)
    assert result["delivered"] == 1, result
    flying = [s for s in track.statuses if s["state"] == "in_transit" and s["vehicle"] is not None]
    assert flying and all(s["eta"] is not None and s["eta"]["low"] <= s["eta"]["eta"] <= s["eta"]["high"]
                          for s in flying)
    final = track.statuses[-1]
    proof = final["proof"]
    assert final["state"] == "delivered" and final["vehicle"] is None and final["eta"] is None
    assert proof["method"] == "release" and proof["confirmed"] is True and proof["observed"] is True
    assert proof["distance_m"] is not None and proof["distance_m"] < 50
    assert proof["position"]["lat"] == pytest.approx(final["target"]["lat"], abs=5e-4)
    assert proof["target"]["lat"] == pytest.approx(final["target"]["lat"], abs=1e-6)
    assert proof["delivered_at"]
    # the page carries the same proof (it renders from the embedded status)
    assert json.dumps(proof["delivered_at"]) in track.page and "Proof of delivery" in track.page
