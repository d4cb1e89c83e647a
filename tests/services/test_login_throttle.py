"""Throttling rules, with the clock under the test's control."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consentflow.auth.service import LoginFailed, authenticate
from consentflow.auth.throttle import LoginThrottled, ThrottlePolicy
from consentflow.models import utcnow
from tests import factories

POLICY = ThrottlePolicy(max_failures=5, window=timedelta(minutes=15), address_max_failures=20,
                        account_max_failures=20, first_delay=timedelta(seconds=30))
WRONG = "wrong-password-123"


def _try(db_session, email, password, addr, now, device=None):
    try:
        user = authenticate(db_session, email, password, addr, now, POLICY, device=device)
    except LoginThrottled as err:
        db_session.rollback()
        return ("throttled", err.retry_after)
    except LoginFailed:
        db_session.commit()
        return ("failed", None)
    db_session.commit()
    return ("ok", user)


@pytest.fixture
def staff(db_session):
    school = factories.school(db_session)
    user = factories.user(db_session, school=school, roles=("admin",))
    db_session.commit()
    return user


def test_the_wait_doubles_with_each_further_failure(db_session, staff) -> None:
    t0 = utcnow()
    for i in range(5):
        assert _try(db_session, staff.email, WRONG, "10.0.0.1", t0 + timedelta(seconds=i))[0] == "failed"
    last = t0 + timedelta(seconds=4)
    state, wait = _try(db_session, staff.email, factories.PASSWORD, "10.0.0.1", last + timedelta(seconds=1))
    assert state == "throttled" and wait == timedelta(seconds=29)
    # After the first delay, one more try; a failure doubles the delay.
    t1 = last + timedelta(seconds=30)
    assert _try(db_session, staff.email, WRONG, "10.0.0.1", t1)[0] == "failed"
    state, wait = _try(db_session, staff.email, WRONG, "10.0.0.1", t1 + timedelta(seconds=59))
    assert state == "throttled" and wait == timedelta(seconds=1)
    assert _try(db_session, staff.email, factories.PASSWORD, "10.0.0.1", t1 + timedelta(seconds=60))[0] == "ok"


def test_the_wait_never_exceeds_the_window(db_session, staff) -> None:
    t0 = utcnow()
    for _ in range(5):
        _try(db_session, staff.email, WRONG, "10.0.0.1", t0)
    t = t0
    for _ in range(8):  # keep failing as soon as allowed
        state, wait = _try(db_session, staff.email, WRONG, "10.0.0.1", t)
        if state == "throttled":
            assert wait <= POLICY.window
            t = t + wait
    assert _try(db_session, staff.email, factories.PASSWORD, "10.0.0.1", t + POLICY.window)[0] == "ok"


def test_spraying_from_one_address_allows_one_guess_per_tried_account(db_session, staff) -> None:
    t0 = utcnow()
    for i in range(20):
        assert _try(db_session, f"nobody{i}@example.org", WRONG, "10.0.0.9", t0)[0] == "failed"
    # An account this address never tried: the right password works.
    assert _try(db_session, staff.email, factories.PASSWORD, "10.0.0.9", t0)[0] == "ok"
    # One guess at a new account, then that account waits for this address.
    other = factories.user(db_session, school=factories.school(db_session), roles=("pr",))
    db_session.commit()
    assert _try(db_session, other.email, WRONG, "10.0.0.9", t0)[0] == "failed"
    assert _try(db_session, other.email, factories.PASSWORD, "10.0.0.9", t0)[0] == "throttled"


def test_many_addresses_guessing_one_account_block_unknown_clients_only(db_session, staff) -> None:
    t0 = utcnow()
    # The owner signed in from their own browser before the attack.
    assert _try(db_session, staff.email, factories.PASSWORD, "192.0.2.1", t0, device="owner-device-0001")[0] == "ok"
    for i in range(20):
        assert _try(db_session, staff.email, WRONG, f"198.51.100.{i}", t0)[0] == "failed"
    # A fresh address without the device cookie waits, even with the right password...
    assert _try(db_session, staff.email, factories.PASSWORD, "203.0.113.5", t0)[0] == "throttled"
    # ...a forged, unknown device id is just an unknown client...
    assert _try(db_session, staff.email, factories.PASSWORD, "203.0.113.5", t0,
                device="guessed-device-01")[0] == "throttled"
    # ...and the owner's known browser signs in.
    assert _try(db_session, staff.email, factories.PASSWORD, "203.0.113.5", t0,
                device="owner-device-0001")[0] == "ok"


def test_a_known_device_is_limited_by_its_own_failures(db_session, staff) -> None:
    t0 = utcnow()
    assert _try(db_session, staff.email, factories.PASSWORD, "10.0.0.1", t0, device="stolen-laptop-001")[0] == "ok"
    for _ in range(5):
        assert _try(db_session, staff.email, WRONG, "10.0.0.1", t0, device="stolen-laptop-001")[0] == "failed"
    assert _try(db_session, staff.email, factories.PASSWORD, "10.0.0.1", t0,
                device="stolen-laptop-001")[0] == "throttled"
