"""Consent administration: school years, form versions, outbox, conflicts, 16+.

Mailings, per-person links and letters are in ``mailing_views`` (same blueprint).

Nested blueprints: person history and paper records (``records``), the
coverage dashboard (``coverage``) and the public consent page (``public``).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from consentflow.auth.access import current_actor, get_owned, require_role, require_school
from consentflow.consent import outbox as outbox_service
from consentflow.consent.blueprint import bp
from consentflow.consent.coverage_views import bp as coverage_bp
from consentflow.consent.forms import ActionForm, FormVersionForm, RoundForm, YearForm
from consentflow.consent.mailing_views import deliver_if_configured, link_context
from consentflow.consent.public_views import bp as public_bp
from consentflow.consent.purposes import purpose_label
from consentflow.consent.record_views import bp as records_bp
from consentflow.consent.reports import guardian_conflicts, turned_sixteen
from consentflow.consent.signer import local_date
from consentflow.consent.turning16 import invite_self_signer
from consentflow.consent.years import (
    DEFAULT_TITLE,
    DEFAULT_WORDING,
    create_form_version,
    ensure_school_year,
    latest_form,
    school_year_on,
)
from consentflow.errors import DomainError, user_message
from consentflow.extensions import db
from consentflow.home.views import Tile, add_tile
from consentflow.models import (
    DEFAULT_PURPOSES,
    ConsentForm,
    ConsentLink,
    ConsentRecord,
    ConsentRound,
    OutboxMessage,
    Person,
    SchoolYear,
    utcnow,
)

bp.register_blueprint(records_bp)
bp.register_blueprint(coverage_bp)
bp.register_blueprint(public_bp)

add_tile(Tile(_l("Consent"), _l("School years, forms, mailings of personal links, reminders."), "consent.index",
              frozenset({"admin"})))
add_tile(Tile(_l("Coverage"), _l("Who consented to what, per class; whom to remind."),
              "consent.coverage.index", frozenset({"admin", "privacy"})))


def _years(school_id: int) -> list[SchoolYear]:
    return list(db.session.scalars(select(SchoolYear).where(SchoolYear.school_id == school_id)
                                   .order_by(SchoolYear.starts_on.desc())))


@bp.route("/consent/")
@require_role("admin")
def index() -> Any:
    school = require_school()
    now = utcnow()
    today = local_date(now)
    current = school_year_on(db.session, school.id, today)
    years = _years(school.id)
    forms = {y.id: list(db.session.scalars(select(ConsentForm).where(ConsentForm.school_year_id == y.id)
                                           .order_by(ConsentForm.version.desc()))) for y in years}
    rounds = list(db.session.scalars(select(ConsentRound).where(ConsentRound.school_id == school.id)
                                     .order_by(ConsentRound.id.desc()).limit(20)))
    link_counts = dict(db.session.execute(
        select(ConsentLink.round_id, func.count()).where(ConsentLink.school_id == school.id)
        .group_by(ConsentLink.round_id)).all())
    round_form = RoundForm()
    round_form.form_id.choices = [(f.id, f"{y.label} · {f}") for y in years for f in forms[y.id]]
    if current and forms.get(current.id):
        round_form.form_id.data = forms[current.id][0].id
    unsent = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.school_id == school.id, OutboxMessage.sent_at.is_(None))) or 0
    return render_template(
        "consent/index.html", school=school, current=current, years=years, forms=forms, rounds=rounds,
        link_counts=link_counts, year_form=YearForm(on=today), round_form=round_form,
        action_form=ActionForm(), unsent=unsent, today=today)


@bp.route("/consent/years", methods=["POST"])
@require_role("admin")
def create_year() -> Any:
    school = require_school()
    form = YearForm()
    if not form.validate_on_submit() or form.on.data is None:
        flash(_("Give a date inside the school year."), "error")
        return redirect(url_for(".index"))
    try:
        year = ensure_school_year(db.session, actor=current_actor(), school_id=school.id, on=form.on.data,
                                  now=utcnow())
        if latest_form(db.session, year.id) is None:
            create_form_version(db.session, actor=current_actor(), school_id=school.id,
                                school_year_id=year.id, title=DEFAULT_TITLE, wording=DEFAULT_WORDING,
                                purposes=list(DEFAULT_PURPOSES), now=utcnow())
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
        return redirect(url_for(".index"))
    flash(_("School year %(label)s is ready, with a first form version.", label=year.label), "success")
    return redirect(url_for(".index"))


@bp.route("/consent/forms/new", methods=["GET", "POST"])
@require_role("admin")
def new_form() -> Any:
    school = require_school()
    form = FormVersionForm()
    years = _years(school.id)
    form.school_year_id.choices = [(y.id, y.label) for y in years]
    form.purposes.choices = [(p, purpose_label(p)) for p in DEFAULT_PURPOSES]
    if request.method == "GET":
        base = get_owned(ConsentForm, request.args.get("from", type=int)) if request.args.get("from") else None
        form.school_year_id.data = base.school_year_id if base else (years[0].id if years else None)
        form.title.data = base.title if base else DEFAULT_TITLE
        form.wording.data = base.wording if base else DEFAULT_WORDING
        form.purposes.data = list(base.purposes) if base else list(DEFAULT_PURPOSES)
    if form.validate_on_submit():
        get_owned(SchoolYear, form.school_year_id.data)
        try:
            created = create_form_version(
                db.session, actor=current_actor(), school_id=school.id,
                school_year_id=form.school_year_id.data, title=form.title.data or "",
                wording=form.wording.data or "", purposes=list(form.purposes.data or []), now=utcnow())
            db.session.commit()
        except DomainError as err:
            db.session.rollback()
            form.wording.errors = [*form.wording.errors, user_message(err)]
        else:
            flash(_("Form version %(v)s saved.", v=created.version), "success")
            return redirect(url_for(".show_form", form_id=created.id))
    return render_template("consent/form_new.html", form=form)


@bp.route("/consent/forms/<int:form_id>")
@require_role("admin")
def show_form(form_id: int) -> Any:
    consent_form = get_owned(ConsentForm, form_id)
    answered = db.session.scalar(select(func.count()).select_from(ConsentRecord)
                                 .where(ConsentRecord.form_id == form_id)) or 0
    return render_template("consent/form_show.html", consent_form=consent_form, answered=answered,
                           purposes=[(p, purpose_label(p)) for p in consent_form.purposes])


@bp.route("/consent/outbox")
@require_role("admin")
def outbox() -> Any:
    school = require_school()
    messages = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.school_id == school.id)
                                       .order_by(OutboxMessage.id.desc()).limit(300)))
    shown = request.args.get("show", type=int)
    failed = sum(1 for m in messages if m.sent_at is None and m.error)
    return render_template("consent/outbox.html", messages=messages, shown=shown, failed=failed,
                           smtp=bool(current_app.config.get("MAIL_SERVER")), action_form=ActionForm())


@bp.route("/consent/outbox/send", methods=["POST"])
@require_role("admin")
def send_outbox() -> Any:
    if ActionForm().validate_on_submit():
        if not current_app.config.get("MAIL_SERVER"):
            flash(_("No mail server is configured (MAIL_SERVER); the messages stay here."), "warning")
        else:
            try:
                sent = outbox_service.send_pending(
                    db.session, outbox_service.MailSettings.from_config(current_app.config), utcnow(),
                    school_id=require_school().id)
                db.session.commit()
                flash(_("%(n)s message(s) sent.", n=sent), "success")
            except OSError as err:
                db.session.commit()  # each waiting message keeps the error, shown in the outbox
                flash(_("The mail server could not be reached: %(err)s", err=str(err)), "error")
    return redirect(url_for(".outbox"))


@bp.route("/consent/conflicts")
@require_role("admin")
def conflicts() -> Any:
    school = require_school()
    years = _years(school.id)
    year_id = request.args.get("year", type=int)
    year = get_owned(SchoolYear, year_id) if year_id else school_year_on(
        db.session, school.id, local_date(utcnow()))
    rows = guardian_conflicts(db.session, school.id, year.id) if year else []
    return render_template("consent/conflicts.html", rows=rows, year=year, years=years, label=purpose_label)


@bp.route("/consent/turned-16")
@require_role("admin")
def turned_16() -> Any:
    school = require_school()
    rows = turned_sixteen(db.session, school.id, local_date(utcnow()))
    return render_template("consent/turned16.html", rows=rows, action_form=ActionForm())


@bp.route("/consent/turned-16/<int:person_id>/invite", methods=["POST"])
@require_role("admin")
def invite_self(person_id: int) -> Any:
    person = get_owned(Person, person_id)
    if not ActionForm().validate_on_submit():
        return redirect(url_for(".turned_16"))
    try:
        own = invite_self_signer(db.session, actor=current_actor(), school_id=person.school_id,
                                 person_id=person.id, ctx=link_context(), now=utcnow())
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
        return redirect(url_for(".turned_16"))
    deliver_if_configured()
    if own.mailed:
        flash(_("%(name)s's own link is in the outbox.", name=person.first_name), "success")
    else:
        flash(_("%(name)s has no e-mail address: print the letter with their own link.",
                name=person.first_name), "warning")
    return redirect(url_for(".turned_16"))
