"""TOTP second factor and one-time recovery codes (no Flask).

Required for the roles in the SECOND_FACTOR_ROLES setting (admin and PR by
default: they see children's faces and consent of whole schools); anyone may
enrol. A code is checked after the password and throttled with the same rule
(auth.throttle), on its own key so password and code failures are counted
apart. Each accepted time step is remembered so a code works once.

A first second factor set up during sign-in needs more than the password:
whoever has only the password of an account that never enrolled must not be
able to enrol their own authenticator. The user also shows they read the
account's mail, by a link opened in the same browser shortly before
(an invitation, a password reset or a set-up link sent at that sign-in).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.auth.secret_box import SecretBox
from consentflow.auth.throttle import ThrottlePolicy, check_throttle, lock_account
from consentflow.errors import Forbidden, InvalidInput, InvalidState
from consentflow.models import LoginAttempt, RecoveryCode, User

ISSUER_NAME = "consentflow"
RECOVERY_CODE_COUNT = 10
# One step either side: a phone clock 30 s off still works.
VALID_WINDOW = 1
BOX_PURPOSE = "totp-secret"


# How long a link opened in this browser counts as proof of the mailbox.
MAILBOX_PROOF_MAX_AGE = timedelta(minutes=30)


class SecondFactorFailed(Forbidden):
    """The code is not right."""


def throttle_key(user: User) -> str:
    """The throttle key of a user's second factor (the login_attempt 'email' column)."""
    return f"2fa:{user.id}"


def requires_second_factor(user: User, required_roles: Iterable[str]) -> bool:
    """A second factor is required when the user holds any of the required roles anywhere."""
    required = set(required_roles)
    if not required:
        return False
    if user.board_admin_of_id is not None and "admin" in required:
        return True
    return any(m.role in required for m in user.memberships)


def is_enrolled(user: User) -> bool:
    return user.totp_secret_sealed is not None and user.totp_confirmed_at is not None


def first_enrolment_allowed(user: User, *, proved_user_id: object, proved_at: datetime | None,
                            now: datetime) -> bool:
    """Whether a user in the middle of a password sign-in may set up a first second factor.

    Only with a fresh proof (from the browser's session) that this very user
    opened a link mailed to them; the password alone is not enough.
    """
    return (proved_user_id == user.id and proved_at is not None
            and now - MAILBOX_PROOF_MAX_AGE <= proved_at <= now)


def begin_enrolment(user: User, box: SecretBox) -> str:
    """Give the user a fresh unconfirmed secret (replacing an unconfirmed one); returns it."""
    if is_enrolled(user):
        raise InvalidState("A second factor is already set up.")
    secret = pyotp.random_base32()
    user.totp_secret_sealed = box.seal(secret)
    user.totp_confirmed_at = None
    user.totp_last_step = None
    return secret


def pending_secret(user: User, box: SecretBox) -> str | None:
    """The secret being enrolled (not yet confirmed), if any."""
    if user.totp_secret_sealed is None or user.totp_confirmed_at is not None:
        return None
    return box.open(user.totp_secret_sealed)


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER_NAME)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG markup (drawn on the server, no script, no remote image)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, border=2, title="QR"))


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step the code belongs to (within the window), or None."""
    totp = pyotp.TOTP(secret)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        step = totp.timecode(now) + offset
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _clean(code: str) -> str:
    return "".join(ch for ch in code if ch.isalnum()).lower()


def _hash_code(code: str) -> str:
    return hashlib.sha256(_clean(code).encode()).hexdigest()


def new_recovery_codes(session: Session, *, actor: Actor, user: User, now: datetime) -> list[str]:
    """Replace the user's recovery codes with fresh ones; the plain codes are shown once."""
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(old)
    codes = ["-".join(secrets.token_hex(3) for _ in range(2)) for _ in range(RECOVERY_CODE_COUNT)]
    for code in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=_hash_code(code), created_at=now))
    session.flush()
    record_event(session, actor=actor, action="auth.recovery_codes_new", object_type="user",
                 object_id=user.id, details={"count": len(codes)}, now=now)
    return codes


def confirm_enrolment(session: Session, *, actor: Actor, user: User, code: str, box: SecretBox,
                      now: datetime) -> list[str]:
    """The first right code switches the second factor on; returns the new recovery codes."""
    secret = pending_secret(user, box)
    if secret is None:
        raise InvalidState("Start the set-up of a second factor first.")
    step = _matching_step(secret, _clean(code), now)
    if step is None:
        raise InvalidInput("That code is not right. Check the time on your phone and try the new code.")
    user.totp_confirmed_at = now
    user.totp_last_step = step
    record_event(session, actor=actor, action="auth.second_factor_on", object_type="user",
                 object_id=user.id, now=now)
    return new_recovery_codes(session, actor=actor, user=user, now=now)


def disable(session: Session, *, actor: Actor, user: User, required_roles: Iterable[str],
            now: datetime) -> None:
    """Switch the second factor off; refused for users whose roles require it."""
    if requires_second_factor(user, required_roles):
        raise Forbidden("Your role requires a second factor; it cannot be switched off.")
    user.totp_secret_sealed = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(old)
    record_event(session, actor=actor, action="auth.second_factor_off", object_type="user",
                 object_id=user.id, now=now)


def verify_second_factor(session: Session, *, user: User, code: str, box: SecretBox,
                         remote_addr: str, now: datetime, policy: ThrottlePolicy) -> str:
    """Check a TOTP or recovery code after the password; returns "totp" or "recovery".

    Throttled like the password; a TOTP code is accepted once, a recovery code is used up.
    """
    key = throttle_key(user)
    lock_account(session, key)
    check_throttle(session, email=key, remote_addr=remote_addr, known_device=None, now=now,
                   policy=policy)
    method = None
    cleaned = _clean(code)
    if is_enrolled(user) and user.totp_secret_sealed is not None:
        step = _matching_step(box.open(user.totp_secret_sealed), cleaned, now)
        if step is not None and (user.totp_last_step is None or step > user.totp_last_step):
            user.totp_last_step = step
            method = "totp"
        if method is None and len(cleaned) > 6:
            recovery = session.scalar(select(RecoveryCode).where(
                RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash_code(cleaned),
                RecoveryCode.used_at.is_(None)))
            if recovery is not None:
                recovery.used_at = now
                method = "recovery"
    session.add(LoginAttempt(email=key, remote_addr=remote_addr, success=method is not None, at=now,
                             device=None))
    actor = Actor(user.id, user.email)
    if method is None:
        record_event(session, actor=actor, action="auth.second_factor_failed", object_type="user",
                     object_id=user.id, personal={"remote_addr": remote_addr}, now=now)
        raise SecondFactorFailed()
    left = None
    if method == "recovery":
        left = len(list(session.scalars(select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))))
    record_event(session, actor=actor, action="auth.second_factor_ok", object_type="user",
                 object_id=user.id, details={"method": method, "recovery_codes_left": left},
                 personal={"remote_addr": remote_addr}, now=now)
    return method


def recovery_codes_left(session: Session, user: User) -> int:
    return len(list(session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))))
