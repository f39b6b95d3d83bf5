"""Shared fixtures: a real MQTT broker for every test that talks MQTT.

Order of preference: ``FLEET_TEST_MQTT_URL`` (CI sets the machine's Mosquitto), then Mosquitto on
127.0.0.1:1883, then a private mosquitto from PATH, then in-process amqtt (bare machines).
With ``FLEET_TEST_REQUIRE_SERVICES=1`` (CI) a missing configured broker is an error, not a fallback.
Tests share the broker, so each test uses its own random vehicle ids / topic names.
"""

from __future__ import annotations

import os
import uuid

import pytest

from ground_control.embedded.broker import RunningBroker, ensure_broker, port_open, start_mosquitto


@pytest.fixture(scope="session")
def mqtt_broker() -> RunningBroker:
    url = os.environ.get("FLEET_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    if os.environ.get("FLEET_TEST_REQUIRE_SERVICES") == "1":
        broker = RunningBroker(url=url, kind="external")
        if not port_open(broker.host, broker.port):
            pytest.exit(f"FLEET_TEST_REQUIRE_SERVICES=1 but no broker answers at {url}", returncode=3)
        yield broker
        return
    broker = ensure_broker(url)
    yield broker
    broker.stop()


@pytest.fixture()
def private_mosquitto():
    """A mosquitto of the test's own, for tests that restart the broker. Skips without the binary."""
    try:
        broker = start_mosquitto()
    except FileNotFoundError:
        pytest.skip("no mosquitto binary on this machine")
    yield broker
    broker.stop()


@pytest.fixture()
def unique_id() -> str:
    """A short id, unique per test, for vehicle ids and topic names on the shared broker."""
    return uuid.uuid4().hex[:10]
