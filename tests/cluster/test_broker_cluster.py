"""The delivery scenario on a clustered broker (three nats-server nodes with MQTT and JetStream):
the node every client is connected to is killed mid-delivery, vehicles and ground control move to
another node, and nothing is lost: every parcel delivered, every event the agents published
stored once, nothing set aside."""

from __future__ import annotations

import pytest

from ground_control.demo.runner import DemoOptions, run_demo
from ground_control.embedded.nats_cluster import nats_binary

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400),
              pytest.mark.skipif(nats_binary() is None, reason="needs nats-server (Debian package nats-server)")]


async def test_killing_the_broker_node_everyone_is_on_loses_nothing(tmp_path):
    result = await run_demo(DemoOptions(drones=2, robots=1, parcels=6, planner="greedy", broker="nats-cluster",
                                        kill_broker_node=True, workdir=tmp_path, timeout_s=240))
    out = result.as_json()
    assert out["broker_node_killed_at_s"] is not None, "the node was never killed: nothing went aboard?"
    assert out["delivered"] == 6 and out["lost"] == 0 and not out["timed_out"], out
    assert out["reconnects"]["ground_control"] >= 1 and out["reconnects"]["agents"] >= 3, out["reconnects"]
    assert out["events"] == out["events_published"] and out["dead_letters"] == 0, out
