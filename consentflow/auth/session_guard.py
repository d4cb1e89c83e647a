"""Flask glue of server-side sessions: the user loader checks the session row on every request."""

from __future__ import annotations

from flask import Flask, g, session
from flask_login import current_user

from consentflow.auth.sessions import live_session, touch_session
from consentflow.extensions import db, login_manager
from consentflow.models import User, UserSession, utcnow

# Key of the raw session token in the browser's signed session cookie.
SESSION_TOKEN_KEY = "sid"


def load_user(identity: str) -> User | None:
    """The signed-in user, only while their session row is open and the account active."""
    user_id, _, token = identity.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    # The token changes with the password, which ends older sessions.
    if user is None or not token or user.session_token != token or not user.active:
        return None
    row = live_session(db.session, session.get(SESSION_TOKEN_KEY), user.id)
    if row is None:
        return None
    g.user_session_id = row.id
    if touch_session(row, utcnow()):
        # Runs first thing in the request (see below), so nothing else is pending.
        db.session.commit()
    return user


def current_session_row() -> UserSession | None:
    """The session row of this request, if signed in."""
    if not current_user.is_authenticated or "user_session_id" not in g:
        return None
    return db.session.get(UserSession, g.user_session_id)


def install_session_guard(app: Flask) -> None:
    login_manager.user_loader(load_user)

    @app.before_request
    def _check_session() -> None:
        # Load (and so check) the user before any view code runs, on every request.
        _ = current_user.is_authenticated
