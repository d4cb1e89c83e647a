"""Invitation, password-reset and second-factor set-up links: signed, expiring, single use (no Flask).

The link carries a signed (itsdangerous) pair of the row id and a random
nonce; the database keeps only the nonce's sha256, the expiry and when it was
used. A reset request never reveals whether the address has an account.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.auth.service import normalise_email, set_password
from consentflow.errors import InvalidInput
from consentflow.models import AccountLink, Membership, School, User

_SALT = "consentflow-account-link"
# At most one reset or set-up mail per account in this period: a form cannot be used to flood a mailbox.
RESEND_AFTER = timedelta(minutes=5)


class LinkInvalid(InvalidInput):
    """This link is not valid (any more). Ask for a new one."""


@dataclass(frozen=True)
class IssuedLink:
    link: AccountLink
    token: str


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def issue_link(session: Session, *, actor: Actor, user: User, purpose: str, secret_key: str,
               valid_for: timedelta, now: datetime, school_id: int | None = None) -> IssuedLink:
    """A new link for the user; earlier unused links of the same purpose stop working."""
    for older in session.scalars(select(AccountLink).where(
            AccountLink.user_id == user.id, AccountLink.purpose == purpose,
            AccountLink.used_at.is_(None))):
        older.used_at = now
    nonce = secrets.token_urlsafe(24)
    row = AccountLink(user_id=user.id, purpose=purpose, nonce_hash=_hash(nonce), created_at=now,
                      expires_at=now + valid_for)
    session.add(row)
    session.flush()
    token = URLSafeSerializer(secret_key, salt=_SALT).dumps({"l": row.id, "n": nonce})
    record_event(session, actor=actor, action=f"auth.{purpose}_sent", object_type="user",
                 object_id=user.id, school_id=school_id,
                 details={"link_id": row.id, "expires_at": row.expires_at.isoformat()},
                 personal={"email": user.email}, now=now)
    return IssuedLink(row, token)


# What each kind of link lets its holder do: set a password (or choose the school
# account), or set up a first second factor.
PASSWORD_PURPOSES = ("invite", "reset")
ENROL_PURPOSE = "enrol"


def check_link(session: Session, *, token: str, secret_key: str, now: datetime,
               purposes: tuple[str, ...] = (*PASSWORD_PURPOSES, ENROL_PURPOSE)) -> AccountLink:
    """The unused, unexpired link (of one of ``purposes``) of an active user that this token names, or LinkInvalid."""
    try:
        data = URLSafeSerializer(secret_key, salt=_SALT).loads(token)
    except BadSignature as err:
        raise LinkInvalid() from err
    if not isinstance(data, dict) or not isinstance(data.get("l"), int) or not isinstance(data.get("n"), str):
        raise LinkInvalid()
    row = session.get(AccountLink, data["l"])
    if (row is None or not secrets.compare_digest(row.nonce_hash, _hash(data["n"]))
            or row.used_at is not None or row.expires_at <= now or row.purpose not in purposes):
        raise LinkInvalid()
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise LinkInvalid()
    return row


def use_link_for_password(session: Session, *, token: str, secret_key: str, password: str,
                          now: datetime) -> User:
    """Set the password through a link; the link is used up and every old session ends."""
    row = check_link(session, token=token, secret_key=secret_key, now=now, purposes=PASSWORD_PURPOSES)
    user = session.get(User, row.user_id)
    assert user is not None
    actor = Actor(user.id, user.email)
    set_password(session, actor=actor, user=user, password=password, now=now)
    row.used_at = now
    record_event(session, actor=actor, action=f"auth.{row.purpose}_used", object_type="user",
                 object_id=user.id, details={"link_id": row.id, "method": "password"}, now=now)
    return user


def use_link_for_school_account(session: Session, *, token: str, secret_key: str,
                                now: datetime) -> User:
    """Accept an invitation by choosing to sign in with the school account (no password set)."""
    row = check_link(session, token=token, secret_key=secret_key, now=now, purposes=PASSWORD_PURPOSES)
    user = session.get(User, row.user_id)
    assert user is not None
    row.used_at = now
    record_event(session, actor=Actor(user.id, user.email), action=f"auth.{row.purpose}_used",
                 object_type="user", object_id=user.id,
                 details={"link_id": row.id, "method": "school_account"}, now=now)
    return user


def use_link_for_enrolment(session: Session, *, token: str, secret_key: str, now: datetime) -> User:
    """Use up a second-factor set-up link: the user has shown they read their mail."""
    row = check_link(session, token=token, secret_key=secret_key, now=now, purposes=(ENROL_PURPOSE,))
    user = session.get(User, row.user_id)
    assert user is not None
    row.used_at = now
    record_event(session, actor=Actor(user.id, user.email), action="auth.enrol_used", object_type="user",
                 object_id=user.id, details={"link_id": row.id}, now=now)
    return user


def sent_recently(session: Session, *, user: User, purpose: str, now: datetime) -> bool:
    """Whether a link of this purpose went to the user less than RESEND_AFTER ago."""
    return session.scalar(select(AccountLink.id).where(
        AccountLink.user_id == user.id, AccountLink.purpose == purpose,
        AccountLink.created_at > now - RESEND_AFTER).limit(1)) is not None


def reset_candidate(session: Session, *, email: str, now: datetime) -> User | None:
    """The active account a reset mail should go to, or None (the caller says the same either way)."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active:
        return None
    return None if sent_recently(session, user=user, purpose="reset", now=now) else user


def mail_school_id(session: Session, user: User) -> int | None:
    """The school a mail to this user is filed under in the outbox (their first school)."""
    school_id = session.scalar(select(Membership.school_id).where(Membership.user_id == user.id)
                               .order_by(Membership.school_id).limit(1))
    if school_id is None and user.board_admin_of_id is not None:
        school_id = session.scalar(select(School.id).where(School.board_id == user.board_admin_of_id)
                                   .order_by(School.id).limit(1))
    return school_id
