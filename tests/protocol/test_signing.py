"""Envelope signatures: they survive re-serialisation, break on any changed value, name their
key, and key files are private and shared safely between processes."""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from fleet_keys.keyfile import load_or_create
from fleet_protocol import Command, make_envelope, parse_message, topics
from fleet_protocol.signing import (
    KeyFormatError, check_time, generate_key, key_id, load_public, public_pem, sign_envelope, trust_set,
    verify_signature,
)

KEY = generate_key()
TRUST = trust_set([public_pem(KEY)])


def signed_command(**kw) -> bytes:
    return sign_envelope(make_envelope("command", "v1", Command(command_id="c-1", action="hold", **kw)), KEY, ttl_s=60)


def test_the_signature_survives_reserialisation_but_not_a_changed_value():
    raw = json.loads(signed_command())
    # another key order, spacing and escaping of the same values
    reordered = json.loads(json.dumps(dict(reversed(list(raw.items()))), indent=3, ensure_ascii=True))
    assert verify_signature(reordered, TRUST).ok
    env = parse_message(topics.command("v1"), json.dumps(reordered))
    assert env.sig is not None and env.valid_until is not None
    for path, value in ((("body", "action"), "land_now"), (("vehicle_id",), "v2"), (("valid_until",), "2099-01-01T00:00:00Z"),
                        (("id",), "00000000-0000-0000-0000-000000000000")):
        changed = json.loads(json.dumps(raw))
        target = changed
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value
        v = verify_signature(changed, TRUST)
        assert not v.ok and v.reason == "signature", path


def test_unsigned_and_unknown_keys_are_told_apart():
    raw = json.loads(signed_command())
    assert verify_signature({k: v for k, v in raw.items() if k != "sig"}, TRUST).reason == "unsigned"
    other = json.loads(sign_envelope(make_envelope("command", "v1", Command(command_id="c", action="hold")),
                                     generate_key(), ttl_s=60))
    assert verify_signature(other, TRUST).reason == "unknown_key"
    assert raw["sig"]["kid"] == key_id(KEY) and len(key_id(KEY)) == 16


def test_time_window_allows_small_clock_skew_only():
    now = datetime.now(timezone.utc)
    until = now - timedelta(seconds=10)
    assert check_time(until, now - timedelta(minutes=1), now, skew_s=30).ok
    assert check_time(until, now - timedelta(minutes=1), now + timedelta(seconds=25), skew_s=30).reason == "expired"
    assert check_time(now + timedelta(minutes=5), now + timedelta(minutes=2), now, skew_s=30).reason == "not_yet_valid"
    assert check_time(None, now, now).reason == "expired"   # a signed mission/command must say until when


def test_public_keys_load_as_pem_or_raw_base64_and_refuse_anything_else():
    import base64

    from fleet_protocol.signing import raw_public

    raw_b64 = base64.b64encode(raw_public(KEY.public_key())).decode()
    assert key_id(load_public(raw_b64)) == key_id(load_public(public_pem(KEY))) == key_id(KEY)
    for bad in ("not a key", base64.b64encode(b"x" * 31).decode(), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"):
        with pytest.raises(KeyFormatError):
            load_public(bad)


def test_key_file_is_private_and_one_key_wins_a_race(tmp_path):
    path = tmp_path / "keys" / "gc.key"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: load_or_create(path), range(16)))
    assert len({key_id(k) for k, _ in results}) == 1 and sum(created for _, created in results) == 1
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["gc.key"]   # no temporary files left


def test_fleet_keys_show_and_sign(tmp_path, monkeypatch):
    import fleet_cli

    monkeypatch.setenv("FLEET_SIGNING_KEY_FILE", str(tmp_path / "gc.key"))
    shown = CliRunner().invoke(fleet_cli.main, ["keys", "show"])
    assert shown.exit_code == 0, shown.output
    pem = shown.stdout
    env = make_envelope("command", "v1", Command(command_id="c-9", action="hold"))
    (tmp_path / "c.json").write_text(env.model_dump_json())
    out = CliRunner().invoke(fleet_cli.main, ["keys", "sign", str(tmp_path / "c.json")])
    assert out.exit_code == 0, out.output
    signed = json.loads(out.stdout)
    assert verify_signature(signed, trust_set([pem])).ok and signed["id"] != str(env.id)
    (tmp_path / "bad.json").write_text('{"type": "event"}')
    assert CliRunner().invoke(fleet_cli.main, ["keys", "sign", str(tmp_path / "bad.json")]).exit_code != 0


def test_agent_show_public_key_prints_the_key_it_will_sign_with(tmp_path):
    import fleet_cli

    r = CliRunner().invoke(fleet_cli.main, ["agent", "--vehicle-id", "v1", "--outbox", str(tmp_path / "o.db"),
                                            "--show-public-key"])
    assert r.exit_code == 0, r.output
    key, created = load_or_create(tmp_path / "o.key")
    assert not created and r.stdout == public_pem(key)
