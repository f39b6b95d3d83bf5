"""The pure parts of webhooks: signature, backoff, URL policy, which transition raises which
event, the ETA announcement rules and this branch's mission ETA."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from ground_control.webhooks import signer
from ground_control.webhooks.backoff import retry_delay
from ground_control.webhooks.eta_rules import EtaEstimate, EtaRules, decide
from ground_control.webhooks.event_types import EventType, event_for_transition
from ground_control.webhooks.url_policy import UrlRefused, check, check_syntax

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def test_signature_verifies_and_refuses_tampering_and_old_timestamps():
    secret, body = signer.new_secret(), b'{"id":"e1"}'
    header = signer.header_value(secret, 1_700_000_000, body)
    assert signer.verify(secret, header, body, now=1_700_000_010)
    assert not signer.verify(secret, header, body + b" ", now=1_700_000_010)
    assert not signer.verify("whsec_other", header, body, now=1_700_000_010)
    assert not signer.verify(secret, header, body, now=1_700_000_000 + 301)
    assert not signer.verify(secret, "garbage", body, now=1_700_000_000)


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rnd = random.Random(1)
    d = [retry_delay(n, 1.0, 60.0, rnd) for n in range(1, 12)]
    for n, x in enumerate(d, start=1):
        ceiling = min(60.0, 2 ** (n - 1))
        assert ceiling / 2 <= x <= ceiling
    assert len({round(retry_delay(3, 1.0, 60.0), 6) for _ in range(20)}) > 1   # jittered


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http://127.0.0.1/x", "http://localhost:8080/",
                                 "http://10.1.2.3/", "http://169.254.169.254/latest/meta-data",
                                 "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://user:pw@example.com/",
                                 "http://0.0.0.0/", "https://metadata.google.internal/", "http://localhost./", "http:///nohost"])
def test_internal_or_odd_urls_are_refused(url):
    with pytest.raises(UrlRefused):
        check_syntax(url, allow_private=False)


def test_public_urls_pass_and_private_ones_when_allowed():
    assert check_syntax("https://hooks.example.com/fleet?x=1", allow_private=False) == "hooks.example.com"
    assert check_syntax("http://127.0.0.1:9000/", allow_private=True) == "127.0.0.1"


async def test_a_public_looking_name_that_resolves_inward_is_refused(monkeypatch):
    import asyncio
    import socket

    async def fake_getaddrinfo(host, port, **kw):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 0))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(UrlRefused, match="resolves to the internal address 10.0.0.5"):
        await check("https://hooks.example.com/x", allow_private=False)
    await check("https://hooks.example.com/x", allow_private=True)   # allowed by settings


def test_transitions_map_to_the_integrator_events():
    assert event_for_transition(None, "created") is EventType.created
    assert event_for_transition("created", "planned") is EventType.planned
    assert event_for_transition("planned", "dispatched") is EventType.dispatched
    assert event_for_transition("dispatched", "in_transit") is None
    assert event_for_transition("in_transit", "delivered") is EventType.delivered
    assert event_for_transition("in_transit", "delivery_failed") is EventType.delivery_failed
    assert event_for_transition("delivery_failed", "returned") is EventType.returned
    assert event_for_transition("in_transit", "lost") is EventType.lost
    assert event_for_transition("delivery_failed", "created") is None


RULES = EtaRules(change_threshold_s=120, arriving_soon_s=300, min_interval_s=60)


def est(at: datetime, now: datetime) -> EtaEstimate:
    return EtaEstimate(eta=at, seconds=(at - now).total_seconds())


def test_first_eta_is_a_baseline_then_only_big_moves_are_announced():
    eta = T0 + timedelta(minutes=20)
    d = decide(None, "m1", est(eta, T0), T0, RULES)
    assert not d.eta_changed and not d.arriving_soon
    mark, now = d.mark, T0
    # drifting 30 s per minute: announced once it is > 120 s away from the announced ETA, not before
    announced = []
    for i in range(1, 8):
        now = T0 + timedelta(minutes=i)
        d = decide(mark, "m1", est(eta + timedelta(seconds=30 * i), now), now, RULES)
        mark = d.mark
        announced.append(d.eta_changed)
    assert announced == [False, False, False, False, True, False, False]


def test_jitter_around_a_value_never_flaps():
    eta = T0 + timedelta(minutes=30)
    mark = decide(None, "m1", est(eta, T0), T0, RULES).mark
    for i in range(1, 30):
        now = T0 + timedelta(seconds=20 * i)
        d = decide(mark, "m1", est(eta + timedelta(seconds=100 if i % 2 else -100), now), now, RULES)
        assert not d.eta_changed
        mark = d.mark


def test_big_changes_are_spaced_by_the_min_interval():
    mark = decide(None, "m1", est(T0 + timedelta(minutes=30), T0), T0, RULES).mark
    now = T0 + timedelta(seconds=10)
    d = decide(mark, "m1", est(T0 + timedelta(minutes=40), now), now, RULES)
    assert not d.eta_changed                      # too soon after the baseline
    now = T0 + timedelta(seconds=61)
    d = decide(d.mark, "m1", est(T0 + timedelta(minutes=40), now), now, RULES)
    assert d.eta_changed


def test_arriving_soon_once_per_trip():
    mark = decide(None, "m1", est(T0 + timedelta(minutes=20), T0), T0, RULES).mark
    now = T0 + timedelta(minutes=16)
    d = decide(mark, "m1", est(T0 + timedelta(minutes=20), now), now, RULES)
    assert d.arriving_soon
    now += timedelta(seconds=30)
    d2 = decide(d.mark, "m1", est(T0 + timedelta(minutes=20), now), now, RULES)
    assert not d2.arriving_soon
    # a new trip (the parcel came back and left on another mission) starts afresh
    d3 = decide(d2.mark, "m2", est(now + timedelta(seconds=100), now), now, RULES)
    assert d3.arriving_soon and d3.mark.mission_id == "m2"
