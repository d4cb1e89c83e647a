"""Personal API tokens: issue, revoke, authenticate (SPEC §2, §6).

A token belongs to one user in one school; a request made with it acts with
that user's roles in that school, exactly as the web pages would. Only the
sha256 of a token is stored: the secret is shown once, at creation, and a
database leak yields nothing usable. Services flush and never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.errors import InvalidInput, NotFound
from consentflow.models import ApiToken

# Recognisable in logs and secret scanners; the rest is 256 random bits.
TOKEN_PREFIX = "cf_"
VALIDITY_DAYS = (30, 90, 365)
NAME_MAX = 100
# Writing "last used" on every request would turn every read into a write.
TOUCH_EVERY = timedelta(minutes=5)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_token(
    session: Session, actor: Actor, *, user_id: int, school_id: int, name: str, days: int,
    now: datetime,
) -> tuple[ApiToken, str]:
    """A new token for the user in the school; the secret is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("A token needs a name, so you know later what uses it.")
    if len(name) > NAME_MAX:
        raise InvalidInput("A token name has at most %(n)d characters.", n=NAME_MAX)
    if days not in VALIDITY_DAYS:
        raise InvalidInput("Choose how long the token stays valid.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user_id, school_id=school_id, name=name, prefix=raw[:10],
                     token_sha256=hash_token(raw), created_at=now,
                     expires_at=now + timedelta(days=days))
    session.add(token)
    session.flush()
    record_event(session, actor=actor, action="api_token.create", object_type="api_token",
                 object_id=token.id, school_id=school_id, now=now,
                 details={"user_id": user_id, "prefix": token.prefix,
                          "expires_at": token.expires_at.isoformat()},
                 personal={"name": name})
    return token, raw


def user_tokens(session: Session, user_id: int, school_id: int) -> list[ApiToken]:
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.school_id == school_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def get_user_token(session: Session, user_id: int, school_id: int, token_id: int) -> ApiToken:
    """A user manages only their own tokens, in the school they work in."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id or token.school_id != school_id:
        raise NotFound()
    return token


def revoke_token(session: Session, actor: Actor, token: ApiToken, *, now: datetime) -> ApiToken:
    """Revoking is immediate and final; revoking twice changes nothing."""
    if token.revoked_at is not None:
        return token
    token.revoked_at = now
    session.flush()
    record_event(session, actor=actor, action="api_token.revoke", object_type="api_token",
                 object_id=token.id, school_id=token.school_id, now=now,
                 details={"user_id": token.user_id, "prefix": token.prefix})
    return token


def token_status(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= now:
        return "expired"
    return "active"


def authenticate_token(session: Session, raw: str, *, now: datetime) -> ApiToken | None:
    """The live token for a presented secret, or None (unknown, revoked, expired, inactive user)."""
    raw = (raw or "").strip()
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == hash_token(raw)))
    if token is None or token_status(token, now) != "active" or not token.user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        token.last_used_at = now
        session.flush()
    return token
