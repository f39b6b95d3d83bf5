"""The agent acts only on missions and commands signed by a pinned ground-control key, and
answers every refusal with an event saying why. The handlers are driven directly (no broker, no
autopilot): what matters is the verdict and the events queued in the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from edge_agent.agent import Agent
from edge_factories import GC_KEY, GC_PUBLIC, HOME, command_payload, make_mission, mission_payload, square
from fleet_protocol import Command, make_envelope, topics
from fleet_protocol.signing import generate_key, key_id, public_pem, sign_envelope

VID = "sig-v1"
MTOPIC, CTOPIC = topics.mission(VID), topics.command(VID)


@contextlib.asynccontextmanager
async def agent_at(path, **kw):
    """An agent whose autopilot never answers (its preflight just waits), on the test's loop."""
    kw.setdefault("gc_public_keys", (GC_PUBLIC,))
    a = Agent(vehicle_id=VID, mavlink_url="tcp:127.0.0.1:9", mqtt_url="mqtt://127.0.0.1:9",
              outbox_path=str(path), ready_timeout_s=3600, **kw)
    try:
        yield a
    finally:
        for t in a._tasks:
            t.cancel()
        await asyncio.gather(*a._tasks, return_exceptions=True)
        a.outbox.close()


def events(a: Agent) -> list[dict]:
    return [json.loads(p.payload) for p in a.outbox.pending(1000)]


def bodies(a: Agent, kind: str | None = None) -> list[dict]:
    return [e["body"] for e in events(a) if kind is None or e["body"]["kind"] == kind]


def tamper(payload: bytes, **body_changes) -> bytes:
    raw = json.loads(payload)
    raw["body"].update(body_changes)
    return json.dumps(raw).encode()


async def test_a_signed_mission_is_accepted_and_its_event_is_signed_by_the_agent(tmp_path):
    async with agent_at(tmp_path / "o.db") as a:
        a._on_mission_message(MTOPIC, mission_payload(VID, mission_id="m-ok", stops_m=((60, 0),)))
        assert [b["kind"] for b in bodies(a)] == ["accepted"]
        ev = events(a)[0]
        assert ev["sig"]["kid"] == key_id(a.signing_key)
        assert (tmp_path / "o.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("case", ["unsigned", "tampered", "wrong_key", "expired"])
async def test_forged_or_stale_missions_are_refused_with_the_reason(tmp_path, case):
    env = make_envelope("mission", VID, make_mission(VID, mission_id="m-real", stops_m=((60, 0),)))
    payload = {
        "unsigned": lambda: json.dumps(env.model_dump(mode="json", exclude_none=True)).encode(),
        "tampered": lambda: tamper(sign_envelope(env, GC_KEY, ttl_s=600), cruise_alt_m=90.0),
        "wrong_key": lambda: sign_envelope(env, generate_key(), ttl_s=600),
        "expired": lambda: sign_envelope(env.model_copy(update={"ts": datetime.now(timezone.utc) - timedelta(hours=1)}),
                                         GC_KEY, ttl_s=600),
    }[case]()
    reason = {"unsigned": "unsigned", "tampered": "signature", "wrong_key": "unknown_key", "expired": "expired"}[case]
    async with agent_at(tmp_path / "o.db") as a:
        a._on_mission_message(MTOPIC, payload)
        assert a.run_state is None, "nothing may be flown"
        [rej] = bodies(a)
        assert rej["kind"] == "rejected" and rej["reason"] == reason and "m-real" in rej["detail"]
        # a forgery must not be able to fail the real mission at ground control: no mission id;
        # an expired message is genuine, so it answers under its id
        assert rej.get("mission_id") == ("m-real" if case == "expired" else None)


async def test_a_replayed_mission_is_refused_even_after_a_restart(tmp_path):
    """Once the mission a message carried is no longer being flown (here: refused for its
    no-fly zone), the same signed bytes again are an old message replayed."""
    signed = mission_payload(VID, mission_id="m-old", stops_m=((60, 0),), exclusions=[square(*HOME, 15, 60, 0)])
    async with agent_at(tmp_path / "o.db") as a:
        a._on_mission_message(MTOPIC, signed)
        assert [(b["kind"], b["reason"]) for b in bodies(a)] == [("rejected", "geofence")]
    async with agent_at(tmp_path / "o.db") as a:
        before = len(bodies(a))
        a._on_mission_message(MTOPIC, signed)   # the same bytes, captured and sent again
        new = bodies(a)[before:]
        assert [(b["kind"], b["reason"], b.get("mission_id")) for b in new] == [("rejected", "replay", None)]


async def test_legitimate_redelivery_is_accepted_once(tmp_path):
    """A QoS 1 copy of the same message while it is being flown, and ground control's resend
    of the same mission in a new envelope: one accepted, no refusal, one run."""
    mission = make_mission(VID, mission_id="m-once", stops_m=((60, 0),))
    first = sign_envelope(make_envelope("mission", VID, mission), GC_KEY, ttl_s=600)
    resend = sign_envelope(make_envelope("mission", VID, mission), GC_KEY, ttl_s=600)
    async with agent_at(tmp_path / "o.db") as a:
        a._on_mission_message(MTOPIC, first)
        run = a.run_state
        a._on_mission_message(MTOPIC, first)
        a._on_mission_message(MTOPIC, resend)
        assert [b["kind"] for b in bodies(a)] == ["accepted"]
        assert a.run_state is run


async def test_commands_are_refused_unsigned_expired_or_replayed(tmp_path):
    cmd = make_envelope("command", VID, Command(command_id="c-1", action="hold"))
    async with agent_at(tmp_path / "o.db") as a:
        a._on_command_message(CTOPIC, json.dumps(cmd.model_dump(mode="json", exclude_none=True)).encode())
        old = cmd.model_copy(update={"ts": datetime.now(timezone.utc) - timedelta(hours=1)})
        a._on_command_message(CTOPIC, sign_envelope(old, GC_KEY, ttl_s=60))
        good = command_payload(VID, "resume", "c-2")
        a._on_command_message(CTOPIC, good)     # no mission: answered, not acted on
        a._on_command_message(CTOPIC, good)     # the same message again: a replay
        got = [(b["kind"], b.get("reason"), b.get("accepted"), b.get("detail", "")[:12]) for b in bodies(a)]
    assert got == [("rejected", "unsigned", None, "command c-1:"),
                   ("command_ack", None, False, "expired: val"),
                   ("command_ack", None, False, "no active mi"),
                   ("rejected", "replay", None, "command c-2:")]


async def test_rotation_two_trusted_keys(tmp_path):
    """During a rotation the agent pins the old and the new key: both are taken, others not."""
    new_key = generate_key()
    async with agent_at(tmp_path / "o.db", gc_public_keys=(GC_PUBLIC, public_pem(new_key))) as a:
        a._on_command_message(CTOPIC, command_payload(VID, "resume", "c-old"))
        env = make_envelope("command", VID, Command(command_id="c-new", action="resume"))
        a._on_command_message(CTOPIC, sign_envelope(env, new_key, ttl_s=60))
        env = make_envelope("command", VID, Command(command_id="c-other", action="resume"))
        a._on_command_message(CTOPIC, sign_envelope(env, generate_key(), ttl_s=60))
        got = [(b["kind"], b.get("command_id"), b.get("reason")) for b in bodies(a)]
    assert got == [("command_ack", "c-old", None), ("command_ack", "c-new", None), ("rejected", None, "unknown_key")]


async def test_without_a_pinned_key_everything_is_refused_unless_explicitly_allowed(tmp_path):
    unsigned = json.dumps(make_envelope("mission", VID, make_mission(VID, mission_id="m-u", stops_m=((60, 0),)))
                          .model_dump(mode="json", exclude_none=True)).encode()
    async with agent_at(tmp_path / "a.db", gc_public_keys=()) as a:
        a._on_mission_message(MTOPIC, mission_payload(VID, mission_id="m-s", stops_m=((60, 0),)))
        assert [b["reason"] for b in bodies(a)] == ["unknown_key"]
    async with agent_at(tmp_path / "b.db", gc_public_keys=(), allow_unsigned=True) as a:
        a._on_mission_message(MTOPIC, unsigned)
        assert [b["kind"] for b in bodies(a)] == ["accepted"]


async def test_an_invalid_message_names_its_ids_only_when_ground_control_signed_it(tmp_path):
    """Junk under a real mission's id must not make ground control fail that mission."""
    from fleet_protocol.signing import sign_raw

    raw = json.loads(mission_payload(VID, mission_id="m-real", stops_m=((60, 0),)))
    raw["body"]["cruise_alt_m"] = "high"
    async with agent_at(tmp_path / "o.db") as a:
        a._on_mission_message(MTOPIC, json.dumps(raw).encode())               # forged: signature broken
        a._on_mission_message(MTOPIC, json.dumps(sign_raw(raw, GC_KEY)).encode())   # ground control's own bug
        got = [(b["reason"], b.get("mission_id")) for b in bodies(a)]
    assert got == [("schema", None), ("schema", "m-real")]
