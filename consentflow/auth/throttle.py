"""Login throttling that slows an attacker down without locking anyone else out (no Flask).

Who is asking is judged by three keys, each counted over a sliding window
from the ``login_attempt`` table (shared by every web process):

* A **known device** — a browser whose device cookie has signed in to this
  account before — is judged only by its own failures. Someone else's
  failures, from any address, never block it.
* An **unknown client** is judged per (address, account): after
  ``max_failures`` failures that pair waits, and the wait doubles with each
  further failure (capped at the window). Failures against *other* accounts
  from the same address (one school behind one NAT address) do not count,
  so a colleague who has not failed gets in with the right password.
* Once an address has failed ``address_max_failures`` times (password
  spraying), each account it has already failed on waits after every
  further failure: at most one guess per account per wait, never a lock-out
  of accounts it has not tried.
* Once an account has failed ``account_max_failures`` times from unknown
  clients (guessing one password from many addresses), unknown clients of
  that account wait; its known devices still sign in.

The check and the recording of an attempt run under a per-account lock, so
two attempts at the same moment are counted one after the other.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import ColumnElement, and_, exists, func, select, text
from sqlalchemy.orm import Session

from consentflow.errors import Forbidden
from consentflow.models import LoginAttempt

_LOCK_NAMESPACE = 7_041_552


class LoginThrottled(Forbidden):
    """Too many failed attempts; try again later."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__()
        self.retry_after = retry_after


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    address_max_failures: int = 20
    account_max_failures: int = 20
    first_delay: timedelta = timedelta(seconds=30)
    device_memory: timedelta = timedelta(days=180)


def lock_account(session: Session, email: str) -> None:
    """Serialise attempts on one account until the transaction ends."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        key = zlib.crc32(email.encode()) - 2**31
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :k)"),
                        {"ns": _LOCK_NAMESPACE, "k": key})
    elif dialect == "sqlite":
        # A no-op write takes SQLite's write lock now (waiting up to busy_timeout).
        session.execute(text("UPDATE login_attempt SET id = id WHERE 1 = 0"))


def is_known_device(session: Session, email: str, device: str | None, now: datetime,
                    policy: ThrottlePolicy) -> bool:
    """A device that signed in to this account before (within the device memory)."""
    if not device:
        return False
    return bool(session.scalar(select(exists().where(
        LoginAttempt.email == email, LoginAttempt.device == device, LoginAttempt.success.is_(True),
        LoginAttempt.at >= now - policy.device_memory,
    ))))


def _failures(session: Session, since: datetime, *where: ColumnElement[bool]) -> tuple[int, datetime | None]:
    """How many failures match, and the latest of them."""
    row = session.execute(
        select(func.count(), func.max(LoginAttempt.at))
        .where(LoginAttempt.success.is_(False), LoginAttempt.at >= since, and_(*where))
    ).one()
    latest = row[1]
    if latest is not None and latest.tzinfo is None:  # in case an aggregate loses the UTC type
        latest = latest.replace(tzinfo=timezone.utc)
    return int(row[0]), latest


def _wait(count: int, threshold: int, latest: datetime | None, now: datetime,
          policy: ThrottlePolicy) -> timedelta:
    """Time still to wait: none below the threshold, then doubling from the first delay."""
    if count < threshold or latest is None:
        return timedelta(0)
    delay = min(policy.window, policy.first_delay * (2 ** min(count - threshold, 16)))
    return max(timedelta(0), latest + delay - now)


def check_throttle(session: Session, *, email: str, remote_addr: str, known_device: str | None,
                   now: datetime, policy: ThrottlePolicy) -> None:
    """Raise LoginThrottled if this client must wait before trying this account again."""
    since = now - policy.window
    if known_device:
        count, latest = _failures(session, since, LoginAttempt.email == email,
                                  LoginAttempt.device == known_device)
        wait = _wait(count, policy.max_failures, latest, now, policy)
    else:
        unknown = LoginAttempt.device.is_(None)
        pair, pair_latest = _failures(session, since, unknown, LoginAttempt.email == email,
                                      LoginAttempt.remote_addr == remote_addr)
        address, _ = _failures(session, since, unknown, LoginAttempt.remote_addr == remote_addr)
        account, account_latest = _failures(session, since, unknown, LoginAttempt.email == email)
        waits = [_wait(pair, policy.max_failures, pair_latest, now, policy),
                 _wait(account, policy.account_max_failures, account_latest, now, policy)]
        if address >= policy.address_max_failures and pair:
            waits.append(_wait(address, policy.address_max_failures, pair_latest, now, policy))
        wait = max(waits)
    if wait > timedelta(0):
        raise LoginThrottled(wait)
