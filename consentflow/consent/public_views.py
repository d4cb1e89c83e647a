"""The public consent page ``/c/<token>``: no account, phone-friendly, Dutch and English.

The signed token names one link; forged, expired or revoked links get a
friendly page with a 4xx status. The same link works the whole school year,
whatever mailing sent it: it opens the year's current form with the answer on
file and changes or withdraws it; a page posted twice records once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from consentflow.consent.forms import PublicConsentForm
from consentflow.consent.links import LinkContext, LinkRefused, PublicAddressMissing, link_context_from, resolve_link
from consentflow.consent.purposes import group_purposes, purpose_label
from consentflow.consent.rounds import current_form
from consentflow.consent.self_service import (
    OverviewRefused,
    check_access,
    check_guardian_link,
    published_image,
    view_overview,
)
from consentflow.consent.service import latest_record_in_year
from consentflow.consent.signer import local_date
from consentflow.consent.submit import find_submission, submit_via_link
from consentflow.errors import DomainError, NotFound, SignerRuleViolation, user_message
from consentflow.extensions import db
from consentflow.models import ConsentLink, School, utcnow
from consentflow.photos.storage import storage_from_config

bp = Blueprint("public", __name__)



def _language() -> str | None:
    lang = request.args.get("lang")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        return lang
    return None


def _remember_language(link: ConsentLink, lang: str | None) -> None:
    """A language chosen on the page is the one later mail to this link is written in."""
    if lang and link.language != lang:
        link.language = lang
        db.session.commit()


def _refused(reason: str, status: int, link: ConsentLink | None = None) -> Any:
    name = link.person.first_name if link is not None else ""
    return render_template("public/refused.html", reason=reason, name=name), status


def _guardian_refusal(link: ConsentLink, now: datetime) -> str | None:
    """Why this guardian's link may not show the student's choices today (None: it may)."""
    try:
        check_guardian_link(link, local_date(now))
    except OverviewRefused as err:
        return err.reason
    return None


def _with_link(view: Callable[..., Any]) -> Callable[..., Any]:
    """Resolve the token into its link (at this moment) or answer with the refusal page."""

    @wraps(view)
    def wrapped(token: str, **kwargs: Any) -> Any:
        lang = _language()
        now = utcnow()
        try:
            link = resolve_link(db.session, current_app.config["SECRET_KEY"], token, now)
        except LinkRefused as err:
            return _refused(err.reason, err.status_code)
        _remember_language(link, lang)
        return view(token, link, now, **kwargs)

    return wrapped


def _may_see_overview(link: ConsentLink) -> bool:
    try:
        check_access(link, local_date(utcnow()))
    except OverviewRefused:
        return False
    return True


def _page_values(link: ConsentLink) -> dict[str, Any]:
    form = current_form(db.session, link)
    on_file = latest_record_in_year(db.session, link.person_id, link.round.school_year_id)
    return {
        "link": link, "school": db.session.get(School, link.school_id), "person": link.person,
        "consent_form": form, "groups": group_purposes(form.purposes),
        "on_file": on_file,
        "on_file_answers": [(purpose_label(p), yes) for p, yes in on_file.decisions.items()] if on_file else [],
        "on_file_date": local_date(on_file.signed_at) if on_file else None,
        "chosen": {p: yes for p, yes in on_file.decisions.items() if p in form.purposes} if on_file else {},
        "for_self": link.guardian_id is None, "year": link.round.school_year,
        "overview_allowed": _may_see_overview(link),
    }


@bp.route("/c/<token>", methods=["GET", "POST"])
@_with_link
def consent_page(token: str, link: ConsentLink, now: datetime) -> Any:
    refusal = _guardian_refusal(link, now)
    if refusal:
        # Nothing of the student's choices, and no form: from 16 the student decides.
        return _refused(refusal, 409 if request.method == "POST" else 403, link)
    form = PublicConsentForm()
    values = _page_values(link)
    errors: list[str] = []
    if request.method == "POST":
        if not form.validate_on_submit():
            errors.append(_("The page had expired. Your answer was not saved; please choose again."))
        else:
            action = "withdraw" if form.action.data == "withdraw" else "answer"
            purposes = list(current_form(db.session, link).purposes)
            answers = {p: request.form.get(f"p__{p}") for p in purposes}
            if action == "answer" and any(v not in ("yes", "no") for v in answers.values()):
                errors.append(_("Please answer yes or no to every question."))
                values["chosen"] = {p: v == "yes" for p, v in answers.items() if v in ("yes", "no")}
            else:
                return _submit(token, link, form, action, {p: v == "yes" for p, v in answers.items()})
    form.submission.data = secrets.token_urlsafe(24)
    status = 400 if errors else 200
    return render_template("public/consent.html", form=form, errors=errors, token=token, **values), status


def _submit(token: str, link: ConsentLink, form: PublicConsentForm, action: str,
            decisions: dict[str, bool]) -> Any:
    nonce = (form.submission.data or "")[:64]
    if len(nonce) < 16:
        return _refused("forged", 400)
    ctx: LinkContext | None
    try:
        ctx = link_context_from(current_app.config)
    except PublicAddressMissing:
        ctx = None  # the answer counts all the same; the confirmation goes without the link
    try:
        submit_via_link(db.session, link=link, decisions=decisions, action=action,
                        user_agent=request.headers.get("User-Agent", ""), submission_nonce=nonce,
                        storage_dir=current_app.config["STORAGE_DIR"], ctx=ctx, now=utcnow())
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if find_submission(db.session, nonce) is None:
            raise
    except SignerRuleViolation:
        db.session.rollback()
        return _refused("signer", 409)
    except DomainError as err:
        db.session.rollback()
        return render_template("public/refused.html", reason="error", message=user_message(err)), err.status_code
    return redirect(url_for(".done", token=token, withdrawn=1 if action == "withdraw" else None))


@bp.route("/c/<token>/done")
@_with_link
def done(token: str, link: ConsentLink, now: datetime) -> Any:
    refusal = _guardian_refusal(link, now)
    if refusal:
        return _refused(refusal, 403, link)
    values = _page_values(link)
    return render_template("public/done.html", token=token, withdrawn=bool(request.args.get("withdrawn")),
                           **values)


@bp.route("/c/<token>/overview")
@_with_link
def overview(token: str, link: ConsentLink, now: datetime) -> Any:
    """Self-service access: the consent on file, its history and every published image."""
    try:
        data = view_overview(db.session, link=link, now=now)
    except OverviewRefused as err:
        db.session.rollback()
        return _refused(err.reason, err.status_code, link)
    db.session.commit()  # the audit event of this view
    return render_template("public/overview.html", token=token, overview=data,
                           school=db.session.get(School, link.school_id), person=link.person)


@bp.route("/c/<token>/publication/<int:publication_id>/image")
@_with_link
def publication_image(token: str, link: ConsentLink, now: datetime, publication_id: int) -> Any:
    """The published (redacted) file of a publication showing this link's person; never an original."""
    try:
        data = published_image(db.session, link=link, publication_id=publication_id,
                               storage=storage_from_config(current_app.config), now=now)
    except OverviewRefused as err:
        return _refused(err.reason, err.status_code, link)
    except NotFound:
        abort(404)
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
