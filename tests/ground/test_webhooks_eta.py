"""The ETA watcher over a real database with an injected ETA source: the first ETA is a
baseline, a big change raises parcel.eta_changed once, "arriving soon" is raised once, and a
parcel not on its way is not watched."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from gc_helpers import HUB, VEHICLE, headers_for, parcel
from ground_control.api.app import create_app
from ground_control.db.models import Mission, Parcel, WebhookEvent, utcnow
from ground_control.db.repositories import apply_transitions
from ground_control.domain.parcel_lifecycle import ParcelState as S
from ground_control.settings import Settings
from ground_control.webhooks.eta_rules import EtaEstimate
from ground_control.webhooks.eta_watch import EtaWatcher

import httpx


async def test_eta_watcher_raises_changed_and_arriving_soon_once(db_url):
    settings = Settings(database_url=db_url, mqtt_enabled=False, eta_change_threshold_s=120,
                        eta_arriving_soon_s=300, eta_min_interval_s=0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                              headers=await headers_for(app, "admin"))
        assert (await c.post("/hubs", json=HUB)).status_code == 201
        for pid in ("e1", "e2"):
            assert (await c.post("/parcels", json=parcel(pid))).status_code == 201
        assert (await c.post("/vehicles", json=VEHICLE)).status_code == 201
        sm = app.state.sessionmaker
        async with sm() as s:
            s.add(Mission(id="m-1", vehicle_id=VEHICLE["id"], hub_id=HUB["id"], state="started", payload={},
                          parcel_ids=["e1"]))
            await s.flush()
            p = await s.get(Parcel, "e1")
            p.mission_id, p.vehicle_id = "m-1", VEHICLE["id"]
            for target in (S.planned, S.dispatched):
                apply_transitions(s, p, target, "test")
            await s.commit()

        remaining = {"e1": 1200.0, "e2": 900.0}

        async def source(_session, parcel_id):
            return EtaEstimate(eta=utcnow() + timedelta(seconds=remaining[parcel_id]), seconds=remaining[parcel_id])

        watcher = EtaWatcher(settings, sm, eta_source=source)

        async def types() -> list[str]:
            async with sm() as s:
                rows = (await s.scalars(select(WebhookEvent).where(WebhookEvent.parcel_id == "e1")
                                        .order_by(WebhookEvent.seq))).all()
            return [r.type for r in rows if r.type.startswith("parcel.eta") or r.type.startswith("parcel.arr")]

        assert await watcher.tick() == 0          # baseline
        assert await watcher.tick() == 0          # same ETA again
        remaining["e1"] = 1200.0 + 600           # 10 minutes late
        assert await watcher.tick() == 1
        assert await types() == ["parcel.eta_changed"]
        remaining["e1"] = 240.0                   # now close (and far from the announced ETA)
        assert await watcher.tick() == 2
        assert await watcher.tick() == 0
        assert await types() == ["parcel.eta_changed", "parcel.eta_changed", "parcel.arriving_soon"]
        async with sm() as s:
            ev = (await s.scalars(select(WebhookEvent).where(WebhookEvent.type == "parcel.arriving_soon"))).one()
        assert ev.data["mission_id"] == "m-1" and 200 <= ev.data["eta_seconds"] <= 240
        await c.aclose()
