"""Login, throttling and user creation rules (no Flask)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.auth.passwords import hash_password, needs_rehash, verify_password
from consentflow.auth.sessions import revoke_all_sessions
from consentflow.auth.throttle import ThrottlePolicy, check_throttle, is_known_device, lock_account
from consentflow.errors import Forbidden, InvalidInput
from consentflow.models import ApiToken, LoginAttempt, Membership, School, User, utcnow
from consentflow.models.user import ROLES

MIN_PASSWORD_LENGTH = 10


class LoginFailed(Forbidden):
    """Unknown e-mail address or wrong password."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def authenticate(
    session: Session,
    email: str,
    password: str,
    remote_addr: str,
    now: datetime,
    policy: ThrottlePolicy,
    device: str | None = None,
) -> User:
    """Check a password, after the throttle (see auth.throttle) lets this client try this account."""
    email = normalise_email(email)
    lock_account(session, email)
    known = device if is_known_device(session, email, device, now, policy) else None
    check_throttle(session, email=email, remote_addr=remote_addr, known_device=known, now=now,
                   policy=policy)
    user = session.scalar(select(User).where(User.email == email))
    ok = verify_password(user.password_hash if user else None, password)
    active = ok and user is not None and user.active
    # A success remembers the device; a failure is charged to the device only if it was known.
    session.add(LoginAttempt(email=email, remote_addr=remote_addr, success=active, at=now,
                             device=device if active else known))
    if not active or user is None:
        record_event(
            session, actor=Actor.system("login"), action="auth.login_failed",
            object_type="user", object_id=user.id if user else None,
            personal={"email": email, "remote_addr": remote_addr}, now=now,
        )
        raise LoginFailed()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    record_event(
        session, actor=Actor(user.id, user.email), action="auth.login",
        object_type="user", object_id=user.id, personal={"remote_addr": remote_addr}, now=now,
    )
    return user


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("A password needs at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)


def create_user(
    session: Session,
    *,
    actor: Actor,
    email: str,
    name: str,
    password: str,
    roles: Iterable[tuple[School, str]] = (),
    board_admin_of_id: int | None = None,
) -> User:
    """Create an account with Argon2id hash and per-school roles."""
    email = normalise_email(email)
    if "@" not in email:
        raise InvalidInput("That is not an e-mail address.")
    check_password_strength(password)
    if session.scalar(select(User).where(User.email == email)):
        raise InvalidInput("A user with e-mail %(email)s already exists.", email=email)
    user = User(
        email=email, name=name.strip(), password_hash=hash_password(password),
        session_token=secrets.token_hex(16), board_admin_of_id=board_admin_of_id,
    )
    session.add(user)
    session.flush()
    for school, role in roles:
        grant_role(session, actor=actor, user=user, school=school, role=role)
    record_event(
        session, actor=actor, action="user.create", object_type="user", object_id=user.id,
        personal={"email": email, "name": user.name},
    )
    return user


def grant_role(session: Session, *, actor: Actor, user: User, school: School, role: str) -> Membership:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; choose from {', '.join(ROLES)}.")
    existing = session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.school_id == school.id, Membership.role == role
        )
    )
    if existing:
        return existing
    membership = Membership(user_id=user.id, school_id=school.id, role=role)
    session.add(membership)
    session.flush()
    record_event(
        session, actor=actor, action="user.grant_role", object_type="user", object_id=user.id,
        school_id=school.id, details={"role": role},
    )
    return membership


def set_password(session: Session, *, actor: Actor, user: User, password: str,
                 now: datetime | None = None) -> None:
    """Change a password; every session and every API token of the user ends with it."""
    check_password_strength(password)
    now = now or utcnow()
    user.password_hash = hash_password(password)
    user.session_token = secrets.token_hex(16)
    revoked = 0
    for token in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = now
        revoked += 1
    ended = revoke_all_sessions(session, user.id, now)
    record_event(session, actor=actor, action="user.set_password", object_type="user",
                 object_id=user.id, details={"api_tokens_revoked": revoked, "sessions_ended": ended},
                 now=now)
