"""Every value the protocol accepts can be stored and sent on: no NUL or lone surrogate in any
string, no NaN/infinity, a 64-bit ``seq``, timestamps that exist in UTC, and a deeply nested
payload is a ProtocolError rather than an exception escaping the parser."""

from __future__ import annotations

import inspect
import json
from datetime import datetime, timezone

import pytest
from pydantic import BaseModel, ValidationError

import fleet_protocol
from fleet_protocol import (
    AcceptedEvent, CommandAckEvent, FailsafeEvent, LatLon, ProtocolError, Telemetry, encode, make_envelope,
    parse_message, topics,
)
from fleet_protocol.base import WireModel


def telemetry(**kw) -> Telemetry:
    base = dict(position=LatLon(lat=1, lon=2), heading_deg=0, ground_speed_mps=0, battery_pct=50,
                mode="AUTO", armed=False, gps_fix=3, agent_state="idle")
    return Telemetry(**{**base, **kw})


def raw_event(**changes) -> bytes:
    raw = json.loads(encode(make_envelope("event", "v1", FailsafeEvent(reason="r", action="rtl", detail="d"))))
    for key, value in changes.items():
        if key in raw:
            raw[key] = value
        else:
            raw["body"][key] = value
    return json.dumps(raw).encode()


def test_every_protocol_model_derives_from_the_wire_base():
    """So the rules below hold for every field, including those added later."""
    models = [obj for _, mod in inspect.getmembers(fleet_protocol, inspect.ismodule)
              for _, obj in inspect.getmembers(mod, inspect.isclass)
              if issubclass(obj, BaseModel) and obj.__module__.startswith("fleet_protocol")]
    assert len(models) > 10
    assert [m.__name__ for m in models if not issubclass(m, WireModel)] == []


@pytest.mark.parametrize("text", ["a\x00b", "\x00", "a\ud800b", "\udfff"])
@pytest.mark.parametrize("field", ["detail", "reason", "action"])
def test_nul_and_lone_surrogates_are_refused_in_every_string(field, text):
    with pytest.raises(ProtocolError, match=f"body.failsafe.{field}"):
        parse_message(topics.event("v1"), raw_event(**{field: text}))


def test_nul_is_refused_in_plain_str_fields_and_lists():
    with pytest.raises(ValidationError, match="NUL"):
        telemetry(mode="AU\x00TO")
    with pytest.raises(ValidationError):
        CommandAckEvent(command_id="c1", action="a\ud800", accepted=True)
    assert telemetry(mode="ÄÖ😀").mode == "ÄÖ😀"   # non-ASCII and astral characters are fine


def test_seq_is_bounded_to_64_bits():
    parse_message(topics.event("v1"), raw_event(seq=2**63 - 1))
    with pytest.raises(ProtocolError, match="seq"):
        parse_message(topics.event("v1"), raw_event(seq=2**63))


@pytest.mark.parametrize("payload", [b"[" * 100_000, b'{"a":' * 50_000])
def test_deep_nesting_is_a_protocol_error(payload):
    with pytest.raises(ProtocolError, match="nested too deeply"):
        parse_message(topics.event("v1"), payload)


def test_infinity_and_nan_are_refused():
    with pytest.raises(ValidationError):
        telemetry(ground_speed_mps=float("inf"))
    with pytest.raises(ProtocolError, match="ground_speed_mps"):
        raw = json.loads(encode(make_envelope("telemetry", "v1", telemetry())))
        raw["body"]["ground_speed_mps"] = float("inf")
        parse_message(topics.telemetry("v1"), json.dumps(raw).encode())


@pytest.mark.parametrize("ts", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_timestamps_must_exist_in_utc(ts):
    with pytest.raises(ProtocolError, match="ts"):
        parse_message(topics.event("v1"), raw_event(ts=ts))


def test_timestamps_are_normalised_to_utc():
    env = parse_message(topics.event("v1"), raw_event(ts="2026-12-02T03:00:00+02:00"))
    assert env.ts == datetime(2026, 12, 2, 1, tzinfo=timezone.utc) and env.ts.utcoffset().total_seconds() == 0


def test_short_fields_stay_bounded():
    with pytest.raises(ValidationError):
        CommandAckEvent(command_id="c1", action="x" * 65, accepted=True)
    AcceptedEvent(mission_id="m" * 64)
