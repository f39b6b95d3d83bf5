"""The pure lease rules: acquire, renew, expiry, release, fencing and the fair share of hubs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ground_control.cluster.lease import Lease, choose, claim, fair_share, fence_ok, release

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_first_claim_gets_token_one_and_a_live_lease():
    lease = claim(None, "hub:a", "r1", T0, 10)
    assert lease == Lease("hub:a", "r1", 1, at(10))


def test_a_live_lease_is_refused_to_others_and_renewed_for_its_holder_with_the_same_token():
    lease = claim(None, "hub:a", "r1", T0, 10)
    assert claim(lease, "hub:a", "r2", at(9.9), 10) is None
    renewed = claim(lease, "hub:a", "r1", at(5), 10)
    assert renewed is not None and renewed.token == 1 and renewed.expires_at == at(15)


def test_an_expired_lease_is_taken_over_with_a_new_token():
    lease = claim(None, "hub:a", "r1", T0, 10)
    taken = claim(lease, "hub:a", "r2", at(10), 10)
    assert taken is not None and taken.holder == "r2" and taken.token == 2


def test_a_stale_holder_is_fenced_off_once_another_took_over():
    old = claim(None, "hub:a", "r1", T0, 10)
    assert fence_ok(old, "r1", 1, at(5))
    assert not fence_ok(old, "r1", 1, at(10)), "expired: no more writes even before anybody took it"
    new = claim(old, "hub:a", "r2", at(11), 10)
    assert not fence_ok(new, "r1", 1, at(12))
    assert fence_ok(new, "r2", 2, at(12))
    # the old holder coming back cannot renew a lease that is no longer its own
    assert claim(new, "hub:a", "r1", at(12), 10) is None


def test_released_lease_is_free_at_once_and_the_token_still_grows():
    lease = claim(None, "hub:a", "r1", T0, 10)
    freed = release(lease, "r1", at(1))
    assert freed is not None and freed.holder is None
    assert release(lease, "r2", at(1)) is None
    taken = claim(freed, "hub:a", "r2", at(1), 10)
    assert taken is not None and taken.token == 2


def test_fair_share_and_choice_converge_to_one_owner_per_hub():
    hubs = ["a", "b", "c"]
    assert fair_share(3, 2) == 2 and fair_share(3, 0) == 3 and fair_share(0, 4) == 0
    # alone, a replica claims everything free
    assert choose(hubs, set(), set(hubs), 1) == (["a", "b", "c"], [])
    # a second replica appears: the first gives up its surplus, the second claims it
    assert choose(hubs, {"a", "b", "c"}, set(), 2) == (["a", "b"], ["c"])
    assert choose(hubs, set(), {"c"}, 2) == (["c"], [])
    # a replica never claims a hub somebody else holds
    assert choose(hubs, {"c"}, set(), 2) == (["c"], [])


def test_leases_are_on_for_postgresql_off_for_sqlite_and_renewal_must_fit_twice_in_the_ttl():
    import pytest
    from pydantic import ValidationError

    from ground_control.runtime import uses_leases
    from ground_control.settings import Settings

    assert uses_leases(Settings(database_url="postgresql://u@h/db"))
    assert not uses_leases(Settings(database_url="sqlite:///x.db"))
    assert uses_leases(Settings(database_url="sqlite:///x.db", dispatch_leases="on"))
    with pytest.raises(ValidationError, match="at most half"):
        Settings(lease_ttl_s=3, lease_renew_interval_s=2)
