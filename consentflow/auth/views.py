"""Login, logout, school and language choice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from consentflow.audit.service import record_event
from consentflow.auth.access import SCHOOL_SESSION_KEY, current_actor, schools_of
from consentflow.auth.forms import LoginForm
from consentflow.auth.service import LoginFailed, LoginThrottled, ThrottlePolicy, authenticate
from consentflow.extensions import db
from consentflow.models import utcnow

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative redirects after login."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        policy = ThrottlePolicy(
            max_failures=current_app.config["LOGIN_MAX_FAILURES"],
            window=timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"]),
        )
        try:
            user = authenticate(
                db.session, form.email.data or "", form.password.data or "",
                request.remote_addr or "-", utcnow(), policy,
            )
        except LoginThrottled:
            db.session.rollback()
            flash(_("Too many failed attempts. Wait a quarter of an hour and try again."), "error")
            return render_template("auth/login.html", form=form), 429
        except LoginFailed:
            db.session.commit()  # keep the failed attempt: it feeds the throttle
            flash(_("Unknown e-mail address or wrong password."), "error")
            return render_template("auth/login.html", form=form), 401
        db.session.commit()
        # A fresh session at login: nothing from before authentication survives.
        next_url = _safe_next(request.args.get("next"))
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        login_user(user, remember=False)
        return redirect(next_url)
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    record_event(db.session, actor=current_actor(), action="auth.logout", object_type="user",
                 object_id=current_user.id)
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
    return redirect(url_for("home.index"))


@bp.route("/lang/<code>", methods=["POST"])
def switch_language(code: str) -> Any:
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))
