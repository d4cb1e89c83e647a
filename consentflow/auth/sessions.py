"""Server-side login sessions: every signed-in browser has a row that can be ended (no Flask).

The browser's (signed) session cookie carries a random token; the database
keeps only its sha256. A request is signed in only while that row exists and
is not revoked, so a copy of the cookie dies with logout, a password change
or an administrator's "end all sessions".
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.errors import NotFound
from consentflow.models import User, UserSession

# "Last seen" is written at most this often, so reading pages does not write on every request.
TOUCH_INTERVAL = timedelta(minutes=1)


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def start_session(
    session: Session, *, user: User, school_id: int | None, user_agent: str, remote_addr: str,
    now: datetime,
) -> tuple[UserSession, str]:
    """Open a session for a user who just proved who they are; returns the row and the raw token."""
    raw = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=_token_hash(raw), user_id=user.id, school_id=school_id,
        created_at=now, last_seen_at=now, user_agent=user_agent[:300], remote_addr=remote_addr[:64],
    )
    session.add(row)
    session.flush()
    return row, raw


def live_session(session: Session, raw_token: str | None, user_id: int) -> UserSession | None:
    """The unrevoked session of this user with this token, or None (then the request is signed out)."""
    if not raw_token:
        return None
    return session.scalar(
        select(UserSession).where(
            UserSession.token_hash == _token_hash(raw_token),
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
        )
    )


def touch_session(row: UserSession, now: datetime) -> bool:
    """Move "last seen" forward when it is stale; True when the row changed."""
    if now - row.last_seen_at < TOUCH_INTERVAL:
        return False
    row.last_seen_at = now
    return True


def active_sessions(session: Session, user_id: int) -> list[UserSession]:
    """A user's sessions that have not been ended, newest first."""
    return list(session.scalars(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    ))


def end_own_session(session: Session, *, actor: Actor, user_id: int, session_id: int,
                    now: datetime) -> None:
    """End one of the user's own sessions; someone else's session is not found."""
    row = session.get(UserSession, session_id)
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        raise NotFound()
    row.revoked_at = now
    record_event(session, actor=actor, action="auth.session_end", object_type="user",
                 object_id=user_id, details={"session_id": row.id}, now=now)


def log_out(session: Session, *, actor: Actor, user_id: int, raw_token: str | None,
            now: datetime) -> None:
    """Logging out ends this session on the server, so a copied cookie is worthless."""
    row = live_session(session, raw_token, user_id)
    if row is not None:
        row.revoked_at = now
    record_event(session, actor=actor, action="auth.logout", object_type="user", object_id=user_id,
                 details={"session_id": row.id if row else None}, now=now)


def revoke_all_sessions(session: Session, user_id: int, now: datetime) -> int:
    """Mark every open session of the user ended (the caller audits why); returns how many."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def end_all_sessions(session: Session, *, actor: Actor, user_id: int, now: datetime,
                     reason: str, school_id: int | None = None) -> int:
    """End every open session of a user (an administrator, or the user elsewhere); audited."""
    ended = revoke_all_sessions(session, user_id, now)
    record_event(session, actor=actor, action="auth.sessions_end_all", object_type="user",
                 object_id=user_id, school_id=school_id,
                 details={"sessions_ended": ended, "reason": reason}, now=now)
    return ended
