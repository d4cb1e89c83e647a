"""Login, logout, school and language choice."""

from __future__ import annotations

import math
import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from consentflow.auth.access import SCHOOL_SESSION_KEY, current_actor, require_role, schools_of
from consentflow.auth.forms import LoginForm
from consentflow.auth.oidc import enabled_providers
from consentflow.auth.second_factor import is_enrolled, requires_second_factor
from consentflow.auth.service import LoginFailed, authenticate
from consentflow.auth.session_guard import SESSION_TOKEN_KEY, current_session_row
from consentflow.auth.sessions import active_sessions, end_own_session, log_out, start_session
from consentflow.auth.throttle import LoginThrottled, ThrottlePolicy
from consentflow.errors import NotFound
from consentflow.extensions import db
from consentflow.labels import local_dt
from consentflow.models import User, utcnow

bp = Blueprint("auth", __name__)

# A random id that lets a browser which signed in before skip other people's failures.
DEVICE_COOKIE = "cf_device"
DEVICE_COOKIE_MAX_AGE = 180 * 24 * 3600
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,32}")


def _safe_next(target: str | None) -> str:
    """Only same-site relative redirects after login."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("home.index")


def _device_id() -> str | None:
    """This browser's known-device id (see auth.throttle), if it has a well-formed one."""
    value = request.cookies.get(DEVICE_COOKIE, "")
    return value if DEVICE_ID_RE.fullmatch(value) else None


def _set_device_cookie(response: Any, device: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE, device, max_age=DEVICE_COOKIE_MAX_AGE, httponly=True, samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        policy = login_policy()
        # A browser without a device id gets one; it becomes "known" only by signing in.
        device = _device_id()
        new_device = device is None
        if device is None:
            device = secrets.token_urlsafe(16)
        try:
            user = authenticate(
                db.session, form.email.data or "", form.password.data or "",
                request.remote_addr or "-", utcnow(), policy, device=device,
            )
        except LoginThrottled as err:
            db.session.rollback()
            minutes = max(1, math.ceil(err.retry_after.total_seconds() / 60))
            flash(_("Too many failed attempts. Try again in %(minutes)d minute(s).", minutes=minutes),
                  "error")
            response = current_app.make_response((render_template(
                "auth/login.html", form=form, providers=enabled_providers(db.session)), 429))
            response.headers["Retry-After"] = str(math.ceil(err.retry_after.total_seconds()))
            return response
        except LoginFailed:
            db.session.commit()  # keep the failed attempt: it feeds the throttle
            flash(_("Unknown e-mail address or wrong password."), "error")
            return render_template("auth/login.html", form=form,
                                   providers=enabled_providers(db.session)), 401
        db.session.commit()
        next_url = _safe_next(request.args.get("next"))
        if second_factor_needed(user):
            # The password was right; the session starts only after the second factor.
            response = begin_second_factor(user, next_url)
        else:
            response = complete_login(user, next_url)
        if new_device:
            _set_device_cookie(response, device)
        return response
    return render_template("auth/login.html", form=form, providers=enabled_providers(db.session))


def login_policy() -> ThrottlePolicy:
    """The throttle of passwords and second-factor codes, from the settings."""
    max_failures = current_app.config["LOGIN_MAX_FAILURES"]
    return ThrottlePolicy(
        max_failures=max_failures,
        window=timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"]),
        address_max_failures=4 * max_failures,
        account_max_failures=4 * max_failures,
    )


def second_factor_needed(user: User) -> bool:
    """Password sign-ins of enrolled users, and of roles that require it, ask for a code."""
    return is_enrolled(user) or requires_second_factor(
        user, current_app.config["SECOND_FACTOR_ROLES"])


PENDING_KEY = "pending_login"
PENDING_MAX_AGE = timedelta(minutes=10)
# Who opened a link mailed to them in this browser, and when (second_factor.first_enrolment_allowed).
MAILBOX_KEY = "mailbox_proved"


def remember_mailbox_proof(user: User) -> None:
    session[MAILBOX_KEY] = {"user_id": user.id, "at": utcnow().isoformat()}


def mailbox_proof() -> tuple[object, datetime | None]:
    """(user id, when) of the last mailed link this browser opened; (None, None) without one."""
    data = session.get(MAILBOX_KEY)
    if not isinstance(data, dict):
        return None, None
    try:
        return data.get("user_id"), datetime.fromisoformat(str(data.get("at")))
    except ValueError:
        return None, None


def begin_second_factor(user: User, next_url: str) -> Any:
    """Remember who proved their password (for a few minutes) and ask for the second factor."""
    kept = {key: session[key] for key in ("lang", MAILBOX_KEY) if session.get(key)}
    session.clear()
    session.update(kept)
    session[PENDING_KEY] = {"user_id": user.id, "token": user.session_token,
                            "at": utcnow().isoformat(), "next": next_url}
    if is_enrolled(user):
        return redirect(url_for("signin.second_factor"))
    return redirect(url_for("signin.enrol"))


def pending_user() -> User | None:
    """The user between password and second factor, while that state is fresh and still valid."""
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    try:
        started = datetime.fromisoformat(str(data.get("at")))
    except ValueError:
        return None
    if utcnow() - started > PENDING_MAX_AGE:
        return None
    user = db.session.get(User, data.get("user_id"))
    if user is None or not user.active or user.session_token != data.get("token"):
        return None
    return user


def pending_next() -> str:
    data = session.get(PENDING_KEY)
    return _safe_next(data.get("next") if isinstance(data, dict) else None)


def complete_login(user: User, next_url: str, school_id: int | None = None) -> Any:
    """Open a server-side session for a user who fully proved who they are; the boundary commits."""
    schools = schools_of(user)
    if school_id is None or school_id not in {s.id for s in schools}:
        school_id = schools[0].id if schools else None
    _row, raw_token = start_session(
        db.session, user=user, school_id=school_id,
        user_agent=request.user_agent.string or "", remote_addr=request.remote_addr or "-",
        now=utcnow(),
    )
    db.session.commit()
    # A fresh session at login: nothing from before authentication survives.
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    if school_id is not None:
        session[SCHOOL_SESSION_KEY] = school_id
    session[SESSION_TOKEN_KEY] = raw_token
    login_user(user, remember=False)
    return redirect(next_url)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    log_out(db.session, actor=current_actor(), user_id=current_user.id,
            raw_token=session.get(SESSION_TOKEN_KEY), now=utcnow())
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/school/<int:school_id>", methods=["POST"])
@login_required
def switch_school(school_id: int) -> Any:
    if school_id not in {s.id for s in schools_of(current_user)}:
        abort(404)
    session[SCHOOL_SESSION_KEY] = school_id
    row = current_session_row()
    if row is not None:
        row.school_id = school_id  # the school context shown on "my sessions"
        db.session.commit()
    return redirect(url_for("home.index"))


@bp.route("/lang/<code>", methods=["POST"])
def switch_language(code: str) -> Any:
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))


ANY_ROLE = ("admin", "pr", "teacher", "privacy")


@bp.route("/account/sessions")
@require_role(*ANY_ROLE)
def my_sessions() -> Any:
    this = g.get("user_session_id")
    rows = [
        {
            "id": row.id,
            "created": local_dt(row.created_at),
            "last_seen": local_dt(row.last_seen_at),
            "browser": row.user_agent or _("unknown browser"),
            "address": row.remote_addr,
            "school": row.school.name if row.school else "",
            "is_current": row.id == this,
            "end_label": _("End and log out") if row.id == this else _("End this session"),
        }
        for row in active_sessions(db.session, current_user.id)
    ]
    return render_template("auth/sessions.html", sessions=rows)


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@require_role(*ANY_ROLE)
def end_my_session(session_id: int) -> Any:
    try:
        end_own_session(db.session, actor=current_actor(), user_id=current_user.id,
                        session_id=session_id, now=utcnow())
    except NotFound:
        abort(404)
    db.session.commit()
    if session_id == g.get("user_session_id"):
        logout_user()
        session.clear()
        return redirect(url_for("auth.login"))
    flash(_("The session has been ended."), "info")
    return redirect(url_for("auth.my_sessions"))
