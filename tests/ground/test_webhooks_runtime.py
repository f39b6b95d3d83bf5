"""A running ground control (API + MQTT runtime) delivers webhooks by itself: the worker is part
of the runtime and is woken by the commit that wrote the event."""

from __future__ import annotations

import time

import pytest

from gc_helpers import HUB, parcel
from gc_runner import GroundControl, e2e_settings, wait_for
from ground_control.webhooks.signer import verify
from webhook_receiver import Receiver

pytestmark = pytest.mark.timeout(90)


async def test_running_ground_control_sends_parcel_created(mqtt_broker, unique_id, tmp_path):
    rx = Receiver()
    rx.start()
    gc = await GroundControl(e2e_settings(f"sqlite+aiosqlite:///{tmp_path}/fleet.db", mqtt_broker.url, unique_id,
                                          webhooks_allow_private=True, webhooks_poll_interval_s=30)).start()
    try:
        c = gc.client
        assert (await c.post("/hubs", json=HUB)).status_code == 201
        sub = (await c.post("/webhooks", json={"url": rx.url, "event_types": ["parcel.created"]})).json()
        t0 = time.monotonic()
        assert (await c.post("/parcels", json=parcel(f"rt-{unique_id}"))).status_code == 201

        async def got():
            return rx.accepted()

        [r] = await wait_for(got, timeout=20, what="the parcel.created webhook")
        # well before the 30 s poll: the commit woke the worker
        assert time.monotonic() - t0 < 10
        assert r.doc["type"] == "parcel.created" and r.doc["parcel_id"] == f"rt-{unique_id}"
        assert verify(sub["secret"], r.headers["x-fleet-signature"], r.body, now=int(time.time()))
    finally:
        await gc.stop()
        await gc.forget_session()
        rx.stop()
