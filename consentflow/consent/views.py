"""Consent administration: school years, form versions, rounds, links, outbox, conflicts, 16+.

Nested blueprints: person history and paper records (``records``), the
coverage dashboard (``coverage``) and the public consent page (``public``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from consentflow.auth.access import current_actor, get_owned, require_role, require_school
from consentflow.consent import outbox as outbox_service
from consentflow.consent.coverage_views import bp as coverage_bp
from consentflow.consent.family_mail import recipient_address
from consentflow.consent.forms import ActionForm, FormVersionForm, ReminderForm, RoundForm, YearForm
from consentflow.consent.letters import letter_for, letters_pdf
from consentflow.consent.links import (
    LinkContext,
    PublicAddressMissing,
    link_context_from,
    link_state,
    revoke_link,
)
from consentflow.consent.public_views import bp as public_bp
from consentflow.consent.purposes import purpose_label
from consentflow.consent.record_views import bp as records_bp
from consentflow.consent.reports import guardian_conflicts, turned_sixteen
from consentflow.consent.rounds import (
    add_newcomers,
    answered_people,
    close_round,
    open_round,
    resend_link,
    round_links,
    send_person_links,
    set_reminders,
)
from consentflow.consent.turning16 import invite_self_signer
from consentflow.consent.signer import local_date
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
    School,
    SchoolYear,
    utcnow,
)

bp = Blueprint("consent", __name__)
bp.register_blueprint(records_bp)
bp.register_blueprint(coverage_bp)
bp.register_blueprint(public_bp)

add_tile(Tile(_l("Consent"), _l("School years, forms, mailings of personal links, reminders."), "consent.index",
              frozenset({"admin"})))
add_tile(Tile(_l("Coverage"), _l("Who consented to what, per class; whom to remind."),
              "consent.coverage.index", frozenset({"admin", "privacy"})))


def link_context() -> LinkContext:
    """The settings' link context; PublicAddressMissing (shown in Dutch) without a public address."""
    return link_context_from(current_app.config)


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


@bp.route("/consent/rounds", methods=["POST"])
@require_role("admin")
def start_round() -> Any:
    school = require_school()
    form = RoundForm()
    form.form_id.choices = [(f.id, str(f)) for f in db.session.scalars(
        select(ConsentForm).where(ConsentForm.school_id == school.id))]
    if not form.validate_on_submit():
        flash(_("Choose a form version, whom to send to and a reminder schedule (every 1–60 days, "
                "at most 10 reminders)."), "error")
        return redirect(url_for(".index"))
    chosen = get_owned(ConsentForm, form.form_id.data)
    try:
        summary = open_round(db.session, actor=current_actor(), school_id=school.id,
                             school_year_id=chosen.school_year_id, form_id=chosen.id, ctx=link_context(),
                             now=utcnow(), audience=form.audience.data or "unanswered",
                             reminder_every_days=form.reminder_every_days.data,
                             reminder_max=int(form.reminder_max.data or 0))
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
        return redirect(url_for(".index"))
    _deliver_if_configured()
    flash(_("Mailing started: %(links)s new personal links, %(messages)s e-mails in the outbox, "
            "%(unreachable)s without e-mail (print their letters).", links=summary.links,
            messages=summary.messages, unreachable=len(summary.unreachable)), "success")
    return redirect(url_for(".show_round", round_id=summary.round.id))


@bp.route("/consent/rounds/<int:round_id>")
@require_role("admin")
def show_round(round_id: int) -> Any:
    rnd = get_owned(ConsentRound, round_id)
    group = request.args.get("group") or None
    now = utcnow()
    links = round_links(db.session, rnd.id, group)
    answered = answered_people(db.session, rnd.school_year_id, [lk.person_id for lk in links])
    try:
        ctx: LinkContext | None = link_context()
    except PublicAddressMissing as err:
        ctx = None
        flash(user_message(err), "error")
    rows = [{"link": lk, "state": link_state(lk, now).label, "url": ctx.url(lk) if ctx else "",
             "answered": lk.person_id in answered, "to": recipient_address(lk) or ""} for lk in links]
    groups = sorted({g for g in db.session.scalars(
        select(Person.group_name).where(Person.school_id == rnd.school_id).distinct()) if g})
    reminder_form = ReminderForm(reminder_every_days=rnd.reminder_every_days, reminder_max=rnd.reminder_max)
    return render_template("consent/round.html", rnd=rnd, rows=rows, groups=groups, group=group,
                           action_form=ActionForm(), reminder_form=reminder_form,
                           letters_needed=sum(1 for r in rows if not r["to"] and r["state"] == "active"))


@bp.route("/consent/rounds/<int:round_id>/close", methods=["POST"])
@require_role("admin")
def end_round(round_id: int) -> Any:
    rnd = get_owned(ConsentRound, round_id)
    if ActionForm().validate_on_submit():
        close_round(db.session, actor=current_actor(), school_id=rnd.school_id, round_id=rnd.id, now=utcnow())
        db.session.commit()
        flash(_("Mailing ended: no more reminders or newcomers through it. Every personal link keeps "
                "working."), "success")
    return redirect(url_for(".show_round", round_id=rnd.id))


@bp.route("/consent/rounds/<int:round_id>/reminders", methods=["POST"])
@require_role("admin")
def round_reminders(round_id: int) -> Any:
    rnd = get_owned(ConsentRound, round_id)
    form = ReminderForm()
    if not form.validate_on_submit():
        flash(_("Reminders go out every 1 to 60 days, at most 10 times."), "error")
        return redirect(url_for(".show_round", round_id=rnd.id))
    try:
        set_reminders(db.session, actor=current_actor(), school_id=rnd.school_id, round_id=rnd.id,
                      every_days=form.reminder_every_days.data, max_reminders=int(form.reminder_max.data or 0),
                      now=utcnow())
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
    else:
        flash(_("Reminder schedule saved."), "success")
    return redirect(url_for(".show_round", round_id=rnd.id))


@bp.route("/consent/rounds/<int:round_id>/newcomers", methods=["POST"])
@require_role("admin")
def round_newcomers(round_id: int) -> Any:
    rnd = get_owned(ConsentRound, round_id)
    if ActionForm().validate_on_submit():
        try:
            summary = add_newcomers(db.session, actor=current_actor(), school_id=rnd.school_id,
                                    round_id=rnd.id, ctx=link_context(), now=utcnow())
            db.session.commit()
        except DomainError as err:
            db.session.rollback()
            flash(user_message(err), "error")
        else:
            _deliver_if_configured()
            flash(_("Newcomers: %(links)s new personal links, %(messages)s e-mails in the outbox, "
                    "%(unreachable)s without e-mail (print their letters).", links=summary.links,
                    messages=summary.messages, unreachable=len(summary.unreachable)), "success")
    return redirect(url_for(".show_round", round_id=rnd.id))


def _pdf(data: bytes, name: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"  # it carries personal links
    return response


@bp.route("/consent/rounds/<int:round_id>/letters.pdf")
@require_role("admin")
def round_letters(round_id: int) -> Any:
    """Letters for every working link without an e-mail address (families without e-mail)."""
    rnd = get_owned(ConsentRound, round_id)
    school = db.session.get(School, rnd.school_id)
    now = utcnow()
    links = [lk for lk in round_links(db.session, rnd.id, request.args.get("group") or None)
             if recipient_address(lk) is None and link_state(lk, now).usable]
    if not links or school is None:
        flash(_("Every working link has an e-mail address: no letters to print."), "warning")
        return redirect(url_for(".show_round", round_id=rnd.id))
    try:
        ctx = link_context()
    except PublicAddressMissing as err:
        flash(user_message(err), "error")
        return redirect(url_for(".show_round", round_id=rnd.id))
    return _pdf(letters_pdf([letter_for(ctx, school, lk, now) for lk in links]), f"letters-{rnd.id}.pdf")


@bp.route("/consent/links/<int:link_id>/letter.pdf")
@require_role("admin")
def link_letter(link_id: int) -> Any:
    """A printable letter with this personal link as text and QR code."""
    link = get_owned(ConsentLink, link_id)
    school = db.session.get(School, link.school_id)
    now = utcnow()
    if not link_state(link, now).usable or school is None:
        flash(_("This link no longer works; send the person a new one."), "error")
        return redirect(url_for("consent.records.person", person_id=link.person_id))
    try:
        ctx = link_context()
    except PublicAddressMissing as err:
        flash(user_message(err), "error")
        return redirect(url_for("consent.records.person", person_id=link.person_id))
    return _pdf(letters_pdf([letter_for(ctx, school, link, now)]), f"letter-{link.id}.pdf")


@bp.route("/consent/people/<int:person_id>/send-link", methods=["POST"])
@require_role("admin")
def send_link(person_id: int) -> Any:
    """Per-person send: the year link(s) of whoever signs for the person today, through the open mailing."""
    person = get_owned(Person, person_id)
    back = request.form.get("back") == "round" and request.form.get("round_id", type=int)
    if ActionForm().validate_on_submit():
        try:
            summary = send_person_links(db.session, actor=current_actor(), school_id=person.school_id,
                                        person_id=person.id, ctx=link_context(), now=utcnow())
            db.session.commit()
        except DomainError as err:
            db.session.rollback()
            flash(user_message(err), "error")
        else:
            _deliver_if_configured()
            if summary.messages:
                flash(_("%(n)s e-mail(s) with the personal link are in the outbox.", n=summary.messages),
                      "success")
            if summary.unreachable:
                flash(_("No e-mail address for %(n)s signer(s): print the letter with the link.",
                        n=len(summary.unreachable)), "warning")
    if back:
        return redirect(url_for(".show_round", round_id=back))
    return redirect(url_for("consent.records.person", person_id=person.id))


@bp.route("/consent/links/<int:link_id>/revoke", methods=["POST"])
@require_role("admin")
def revoke(link_id: int) -> Any:
    link = get_owned(ConsentLink, link_id)
    if ActionForm().validate_on_submit():
        revoke_link(db.session, actor=current_actor(), school_id=link.school_id, link_id=link.id, now=utcnow())
        db.session.commit()
        flash(_("Link revoked."), "success")
    return _back_to(link)


def _back_to(link: ConsentLink) -> Any:
    if request.form.get("back") == "person":
        return redirect(url_for("consent.records.person", person_id=link.person_id))
    return redirect(url_for(".show_round", round_id=request.form.get("round_id", type=int) or link.round_id))


@bp.route("/consent/links/<int:link_id>/resend", methods=["POST"])
@require_role("admin")
def resend(link_id: int) -> Any:
    link = get_owned(ConsentLink, link_id)
    if ActionForm().validate_on_submit():
        try:
            queued = resend_link(db.session, actor=current_actor(), school_id=link.school_id, link_id=link.id,
                                 ctx=link_context(), now=utcnow())
            db.session.commit()
        except DomainError as err:
            db.session.rollback()
            flash(user_message(err), "error")
            return _back_to(link)
        _deliver_if_configured()
        flash(_("Message queued.") if queued else _("No e-mail address: print the letter with the link."),
              "success" if queued else "warning")
    return _back_to(link)


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


def _deliver_if_configured() -> None:
    """With SMTP configured, the worker sends the outbox; without, it stays viewable."""
    if current_app.config.get("MAIL_SERVER"):
        from consentflow.jobs import enqueue

        enqueue("outbox.send")


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
    _deliver_if_configured()
    if own.mailed:
        flash(_("%(name)s's own link is in the outbox.", name=person.first_name), "success")
    else:
        flash(_("%(name)s has no e-mail address: print the letter with their own link.",
                name=person.first_name), "warning")
    return redirect(url_for(".turned_16"))
