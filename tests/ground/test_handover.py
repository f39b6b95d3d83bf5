"""Robot handover codes: shown only on the recipient's tracking page, kept only as salt + hash, checked before a
handover is relayed to the robot (wrong codes counted, the handover locked at the limit and the
robot told to move on), and checked again on the robot's proof of delivery."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from fleet_protocol import (
    CommandAction, DeliveredEvent, DeliveryFailedEvent, LatLon, ProofOfDelivery, ReturnedEvent, StopAction,
    make_envelope, parse_message, topics,
)
from ground_control.api.handover import handover_secret
from ground_control.db.models import Command, Event, Mission, Parcel
from ground_control.dispatch.dispatcher import Dispatcher
from ground_control.domain import handover_code as hc
from ground_control.ingest.events import store_and_apply
from ground_control.planning import make_planner
from gc_helpers import HUB, parcel

ROBOT = {"id": "robot-1", "type": "robot", "hub_id": "hub-1", "payload_kg": 20, "battery_wh": 900,
         "wh_per_km": 30, "cruise_speed_mps": 3}


def test_codes_are_six_digits_derivable_from_secret_and_salt_and_verified_by_hash():
    issued = hc.issue(b"s" * 32)
    assert len(issued.code) == 6 and issued.code.isdigit() and issued.code not in (issued.salt, issued.hash)
    assert hc.shown_code(b"s" * 32, issued.salt) == issued.code
    assert hc.shown_code(b"t" * 32, issued.salt) != issued.code or hc.shown_code(b"u" * 32, issued.salt) != issued.code
    assert hc.matches(issued.code, issued.salt, issued.hash)
    wrong = f"{(int(issued.code) + 1) % 10**6:06d}"
    for bad in (wrong, None, "", issued.code + "0", "12345a", " " + issued.code[1:]):
        assert not hc.matches(bad, issued.salt, issued.hash), bad


async def code_on_page(c, tracking_url: str) -> str | None:
    """The code as the recipient reads it: on their public tracking page, with no credential."""
    path = "/track/" + tracking_url.rsplit("/track/", 1)[1] + "/status"
    r = await c.get(path, headers={"Authorization": ""})
    assert r.status_code == 200, r.text
    return r.json()["handover_code"]


async def aboard(c, pid: str) -> str:
    """A parcel created over the API and put aboard robot-1's mission; its code, from its page."""
    r = await c.post("/parcels", json=parcel(pid))
    assert r.status_code == 201, r.text
    code = await code_on_page(c, r.json()["tracking_url"])
    async with c.app.state.sessionmaker() as s:
        s.add(Mission(id=f"m-{pid}", vehicle_id="robot-1", hub_id="hub-1", state="started", payload={},
                      parcel_ids=[pid]))
        await s.flush()
        p = await s.get(Parcel, pid)
        p.state, p.mission_id, p.vehicle_id = "in_transit", f"m-{pid}", "robot-1"
        await s.commit()
    return code


@pytest.fixture()
async def fleet(client):
    assert (await client.post("/hubs", json=HUB)).status_code == 201
    assert (await client.post("/vehicles", json=ROBOT)).status_code == 201
    return client


async def test_code_is_shown_on_the_tracking_page_only_and_only_salt_and_hash_are_stored(fleet):
    c = fleet
    r = await c.post("/parcels", json=parcel("p-1"))
    code = await code_on_page(c, r.json()["tracking_url"])
    assert code is not None and len(code) == 6 and code.isdigit()
    # no operator or sender answer carries it: creation, detail, list
    for answer in (r.text, (await c.get("/parcels/p-1")).text, (await c.get("/parcels")).text):
        assert "handover_code" not in answer and code not in answer
    async with c.app.state.sessionmaker() as s:
        row = await s.get(Parcel, "p-1")
        assert code not in (row.handover_salt, row.handover_hash) and hc.matches(code, row.handover_salt, row.handover_hash)
        # the server secret shows it again (a recipient tracking page)
        assert hc.shown_code(await handover_secret(c.app.state.settings, s), row.handover_salt) == code
    header = "id,weight_kg,size,hub_id,lat,lon,address,recipient_name,recipient_phone\n"
    rows = "".join(f"i-{i},1.0,small,hub-1,52.5,13.4,Street,Ann,+4930111111\n" for i in range(3))
    r = await c.post("/parcels/import", content=header + rows, headers={"content-type": "text/csv"})
    assert r.status_code == 201 and "handover_code" not in r.text
    codes = [await code_on_page(c, i["tracking_url"]) for i in r.json()["items"]]
    assert all(x is not None and len(x) == 6 and x.isdigit() for x in codes)


async def test_wrong_codes_are_refused_counted_and_lock_the_handover(fleet):
    c = fleet
    code = await aboard(c, "p-ok")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    url = "/vehicles/robot-1/commands"
    r = await c.post(url, json={"action": "handover_confirmed", "parcel_id": "p-ok", "handover_code": wrong})
    assert r.status_code == 403 and "wrong handover code" in r.json()["detail"] and "4 attempt(s) left" in r.json()["detail"]
    r = await c.post(url, json={"action": "handover_confirmed", "parcel_id": "p-ok"})
    assert r.status_code == 403 and "missing handover code" in r.json()["detail"]
    r = await c.post(url, json={"action": "handover_confirmed", "parcel_id": "p-ok", "handover_code": code})
    assert r.status_code == 202, r.text
    commands = (await c.get(url)).json()["items"]
    assert [(x["action"], x["parcel_id"]) for x in commands] == [("handover_confirmed", "p-ok")]

    code = await aboard(c, "p-lock")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    answers = [await c.post(url, json={"action": "handover_confirmed", "parcel_id": "p-lock", "handover_code": wrong})
               for _ in range(5)]
    assert [a.status_code for a in answers] == [403] * 5
    assert "handover locked" in answers[-1].json()["detail"]
    # locked: even the right code no longer releases it, and the robot was told to move on
    r = await c.post(url, json={"action": "handover_confirmed", "parcel_id": "p-lock", "handover_code": code})
    assert r.status_code == 409 and "locked" in r.json()["detail"]
    async with c.app.state.sessionmaker() as s:
        cmds = (await s.scalars(select(Command).where(Command.parcel_id == "p-lock"))).all()
        assert [(x.action, x.mission_id, x.vehicle_id) for x in cmds] == [("handover_refused", "m-p-lock", "robot-1")]
        assert (await s.get(Parcel, "p-lock")).handover_attempts == 5
    # the dispatcher's command outbox sends it to the robot as a protocol command
    sent: list[tuple[str, bytes]] = []

    async def publish(topic: str, payload: bytes, qos: int) -> None:
        sent.append((topic, payload))

    await Dispatcher(c.app.state.settings, c.app.state.sessionmaker, publish, make_planner("greedy")).flush_commands()
    wire = [parse_message(topic, payload, "command").body for topic, payload in sent
            if topic == topics.command("robot-1")]
    refused = [x for x in wire if x.action is CommandAction.handover_refused]
    assert [(x.parcel_id, x.mission_id) for x in refused] == [("p-lock", "m-p-lock")]

    # a parcel not aboard that vehicle: nothing to confirm
    r = await c.post("/parcels", json=parcel("p-home"))
    r = await c.post(url, json={"action": "handover_confirmed", "parcel_id": "p-home", "handover_code": "000000"})
    assert r.status_code == 409 and "not aboard" in r.json()["detail"]


def delivered(pid: str, code: str | None, confirmed: bool = True):
    target = LatLon(lat=52.53, lon=13.41)
    proof = ProofOfDelivery(method=StopAction.handover, position=target, target=target, distance_m=0,
                            delivered_at=datetime.now(timezone.utc), confirmed=confirmed, handover_code=code)
    return make_envelope("event", "robot-1", DeliveredEvent(mission_id=f"m-{pid}", parcel_id=pid, proof=proof))


@pytest.mark.parametrize("given,verified", [("right", True), ("wrong", False), (None, False)])
async def test_a_robots_proof_counts_as_confirmed_only_with_the_right_code(fleet, given, verified):
    c = fleet
    code = await aboard(c, "p-proof")
    sent = {"right": code, "wrong": f"{(int(code) + 1) % 10**6:06d}", None: None}[given]
    env = delivered("p-proof", sent)
    async with c.app.state.sessionmaker() as s:
        await store_and_apply(s, env, max_attempts=2)
    async with c.app.state.sessionmaker() as s:
        p = await s.get(Parcel, "p-proof")
        event = await s.get(Event, str(env.id))
    assert p.state == "delivered"        # it left the robot either way: not re-planned
    assert p.proof["confirmed"] is verified and p.proof["handover_code_verified"] is verified
    assert "handover_code" not in p.proof
    listed = (await c.get("/events", params={"kind": "delivered"})).json()["items"]
    assert listed and all("handover_code" not in e["body"]["proof"] for e in listed)
    if verified:
        assert not event.note
    else:
        assert "recorded as an unconfirmed handover" in event.note
        assert ("wrong" if given else "missing") + " handover code" in event.note


async def test_a_locked_handover_brings_the_parcel_back_as_a_failed_delivery(fleet):
    """The whole flow after the lock: the robot (told ``handover_refused``) reports the parcel
    undelivered with reason ``handover_code`` and drives home; the parcel is a failed delivery,
    then back to planning with the attempt counted."""
    c = fleet
    code = await aboard(c, "p-back")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    url = "/vehicles/robot-1/commands"
    for _ in range(5):
        await c.post(url, json={"action": "handover_confirmed", "parcel_id": "p-back", "handover_code": wrong})
    failed = make_envelope("event", "robot-1", DeliveryFailedEvent(mission_id="m-p-back", parcel_id="p-back",
                                                                   reason="handover_code", detail="handover refused"))
    back = make_envelope("event", "robot-1", ReturnedEvent(mission_id="m-p-back", position=LatLon(lat=52.52, lon=13.405),
                                                           undelivered=["p-back"]))
    async with c.app.state.sessionmaker() as s:
        await store_and_apply(s, failed, max_attempts=2)
    assert (await c.get("/parcels/p-back")).json()["state"] == "delivery_failed"
    async with c.app.state.sessionmaker() as s:
        await store_and_apply(s, back, max_attempts=2)
    p = (await c.get("/parcels/p-back")).json()
    assert (p["state"], p["attempts"], p["vehicle_id"]) == ("created", 1, None)
    hist = (await c.get("/parcels/p-back/history")).json()["items"]
    assert any(h["to_state"] == "delivery_failed" and "handover_code" in h["reason"] for h in hist)
