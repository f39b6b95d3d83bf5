"""The wire contract: what parses, what is refused and why, and that the docs' examples are valid."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from fleet_protocol import (
    Command,
    DeliveredEvent,
    Geofence,
    Hub,
    LatLon,
    Mission,
    Polygon,
    ProofOfDelivery,
    ProtocolError,
    Status,
    Stop,
    Telemetry,
    encode,
    make_envelope,
    parse_message,
    topics,
)
from fleet_protocol.envelope import json_schemas

DOCS = Path(__file__).resolve().parents[2] / "docs"


def square(lat: float, lon: float, d: float) -> Polygon:
    return Polygon(vertices=[LatLon(lat=lat - d, lon=lon - d), LatLon(lat=lat - d, lon=lon + d),
                             LatLon(lat=lat + d, lon=lon + d), LatLon(lat=lat + d, lon=lon - d)])


def drone_mission(**overrides) -> Mission:
    data = dict(
        mission_id="m-1", vehicle_id="drone-1", vehicle_type="drone",
        hub=Hub(hub_id="hub-a", position=LatLon(lat=52.37, lon=4.89)),
        stops=[Stop(parcel_id="p-1", drop_off=LatLon(lat=52.372, lon=4.892), action="release", weight_kg=1.2)],
        geofence=Geofence(inclusion=square(52.37, 4.89, 0.05)),
    )
    data.update(overrides)
    return Mission(**data)


def test_round_trip_keeps_every_field():
    env = make_envelope("mission", "drone-1", drone_mission(), seq=7)
    back = parse_message(topics.mission("drone-1"), encode(env))
    assert back.id == env.id and back.seq == 7 and back.body == env.body


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"v": 2, "type": "mission"}', "unsupported protocol version 2"),
        (b'{"v": 1, "type": "command"}', "does not belong on the mission topic"),
        (b'{"v": 1, "type": "mission", "vehicle_id": "drone-1", "body": {}}', "invalid mission"),
    ],
)
def test_malformed_payloads_are_refused_with_a_reason(payload, reason):
    with pytest.raises(ProtocolError, match=reason):
        parse_message(topics.mission("drone-1"), payload)


def test_message_for_another_vehicle_is_refused():
    env = make_envelope("mission", "drone-1", drone_mission())
    with pytest.raises(ProtocolError, match="does not match topic"):
        parse_message(topics.mission("drone-2"), encode(env))


def test_unknown_fields_are_refused_not_ignored():
    raw = json.loads(encode(make_envelope("command", "r-1", Command(command_id="c1", action="hold"))))
    raw["body"]["speed"] = 3
    with pytest.raises(ProtocolError, match="body.speed"):
        parse_message(topics.command("r-1"), json.dumps(raw))


def test_mission_rules():
    with pytest.raises(ValueError, match="must use action 'release'"):
        drone_mission(stops=[Stop(parcel_id="p", drop_off=LatLon(lat=52.37, lon=4.89), action="handover")])
    with pytest.raises(ValueError, match="more than one stop"):
        s = Stop(parcel_id="p", drop_off=LatLon(lat=52.37, lon=4.89), action="release")
        drone_mission(stops=[s, s])
    with pytest.raises(ValueError, match="above the geofence ceiling"):
        drone_mission(cruise_alt_m=150)
    with pytest.raises(ValueError):
        LatLon(lat=91, lon=0)
    with pytest.raises(ValueError, match="3 distinct vertices"):
        Polygon(vertices=[LatLon(lat=1, lon=1)] * 3)


def test_handover_confirmation_must_name_the_parcel():
    with pytest.raises(ValueError, match="needs parcel_id"):
        Command(command_id="c1", action="handover_confirmed")


def test_event_union_dispatches_on_kind():
    proof = ProofOfDelivery(method="release", position=LatLon(lat=1, lon=2), target=LatLon(lat=1, lon=2),
                            distance_m=0.4, delivered_at="2026-01-01T00:00:00Z", confirmed=True)
    env = make_envelope("event", "d1", DeliveredEvent(mission_id="m", parcel_id="p", proof=proof))
    back = parse_message(topics.event("d1"), encode(env))
    assert isinstance(back.body, DeliveredEvent) and back.body.proof.distance_m == 0.4


def test_proof_states_only_what_was_observed():
    target = LatLon(lat=1, lon=2)
    unseen = ProofOfDelivery(method="release", target=target, confirmed=False, observed=False,
                             reason="agent restarted after the release")
    assert unseen.position is None and unseen.delivered_at is None
    with pytest.raises(ValueError, match="observed proof needs"):
        ProofOfDelivery(method="release", target=target, confirmed=False, reason="x")
    with pytest.raises(ValueError, match="cannot be confirmed"):
        ProofOfDelivery(method="release", target=target, confirmed=True, observed=False)
    with pytest.raises(ValueError, match="needs a reason"):
        ProofOfDelivery(method="release", position=target, target=target, distance_m=0, confirmed=False,
                        delivered_at="2026-01-01T00:00:00Z")


def test_telemetry_and_status_bounds():
    with pytest.raises(ValueError):
        Telemetry(position=LatLon(lat=0, lon=0), heading_deg=0, ground_speed_mps=0, battery_pct=120,
                  mode="AUTO", armed=False, gps_fix=3, agent_state="idle")
    assert Status(state="offline").state == "offline"


def test_topic_parsing():
    assert topics.parse("lmf/v1/vehicle/d-1/event") == topics.ParsedTopic("d-1", "event")
    assert topics.parse("lmf/v1/vehicle/d-1/other") is None
    assert topics.parse("lmf/v2/vehicle/d-1/event") is None
    assert topics.shared("gc", topics.all_vehicles("event")) == "$share/gc/lmf/v1/vehicle/+/event"


def test_exported_schemas_match_the_models():
    """docs/schemas is generated (`fleet protocol-schema`); a model change must regenerate it."""
    for name, schema in json_schemas().items():
        on_disk = json.loads((DOCS / "schemas" / f"{name}.schema.json").read_text())
        assert on_disk == json.loads(json.dumps(schema)), f"docs/schemas/{name}.schema.json is stale"


def _doc_examples() -> list[tuple[str, str]]:
    """(topic, payload) pairs from docs/protocol.md: a ```json block preceded by a line naming
    its topic in backticks."""
    text = (DOCS / "protocol.md").read_text()
    pattern = re.compile(r"topic `(lmf/v1/vehicle/[^`]+)`[^\n]*\n+```json\n(.*?)```", re.S)
    return pattern.findall(text)


def test_every_example_in_the_protocol_doc_is_valid():
    examples = _doc_examples()
    kinds = {topics.parse(t).channel for t, _ in examples}
    assert {"mission", "command", "event", "telemetry", "status"} <= kinds
    for topic, payload in examples:
        env = parse_message(topic, payload)
        assert isinstance(env.id, uuid.UUID)


def _telemetry_payload() -> bytes:
    return encode(make_envelope("telemetry", "drone-1", Telemetry(
        position=LatLon(lat=52.5, lon=13.4), heading_deg=90, ground_speed_mps=10, battery_pct=80,
        mode="AUTO", armed=True, gps_fix=3, agent_state="flying"), seq=3))


@pytest.mark.parametrize("variant", [
    lambda p: p,
    lambda p: p.replace(b'"AUTO"', b'"A\\ud800"'),        # lone surrogate
    lambda p: p.replace(b'"AUTO"', b'"A\\u0000"'),        # NUL
    lambda p: p.replace(b'"AUTO"', b'"A\xff"'),           # not UTF-8
    lambda p: p.replace(b'"v":1', b'"v":true'),
    lambda p: p.replace(b'"v":1', b'"v":2'),
    lambda p: p.replace(b'"type":"telemetry"', b'"type":"status"'),
    lambda p: p.replace(b'"seq":3', b'"seq":3,"seq":4'),  # duplicate key: the last one wins
    lambda p: p.replace(b'"heading_deg":90.0', b'"heading_deg":NaN'),
    lambda p: p.replace(b'"armed":true', b'"armed":"true"'),
    lambda p: p.replace(b'"gps_fix":3', b'"gps_fix":"3"'),
    lambda p: p.replace(b'"mode":"AUTO"', b'"mode":"AUTO","extra":1'),
    lambda p: p.decode().encode("utf-16"),                # only json.loads takes these two
    lambda p: b"\xef\xbb\xbf" + p,
    lambda p: p + b" x",
    lambda p: b"[" * 100_000,
])
def test_parsing_from_bytes_accepts_exactly_what_step_by_step_validation_accepts(variant):
    """parse_message validates straight from the bytes and falls back to the step-by-step path
    (json.loads, version and type checks, then the model) only on a refusal: the two must agree
    on every payload, with the same values when accepted and the same reason when refused."""
    from fleet_protocol.envelope import _validate_slowly

    payload = variant(_telemetry_payload())
    try:
        expected = _validate_slowly("telemetry", payload)
    except ProtocolError as exc:
        with pytest.raises(ProtocolError) as refused:
            parse_message(topics.telemetry("drone-1"), payload)
        assert refused.value.reason == exc.reason
    else:
        assert parse_message(topics.telemetry("drone-1"), payload) == expected
