"""Mailings of the year's personal links: start, newcomers, reminders, per-person send, letters.

Routes of the ``consent`` blueprint (see blueprint.py); each checks the admin
role and, through ``get_owned``, the school. The rules live in
``consent.rounds``, ``consent.letters`` and ``consent.links``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from consentflow.auth.access import current_actor, get_owned, require_role, require_school
from consentflow.consent.blueprint import bp
from consentflow.consent.family_mail import recipient_address
from consentflow.consent.forms import ActionForm, ReminderForm, RoundForm
from consentflow.consent.letters import letter_for, letters_pdf
from consentflow.consent.links import (
    LinkContext,
    PublicAddressMissing,
    link_context_from,
    link_state,
    revoke_link,
)
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
from consentflow.errors import DomainError, user_message
from consentflow.exports import attachment
from consentflow.extensions import db
from consentflow.models import ConsentForm, ConsentLink, ConsentRound, Person, School, utcnow


def link_context() -> LinkContext:
    """The settings' link context; PublicAddressMissing (shown in Dutch) without a public address."""
    return link_context_from(current_app.config)


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
    deliver_if_configured()
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
            deliver_if_configured()
            flash(_("Newcomers: %(links)s new personal links, %(messages)s e-mails in the outbox, "
                    "%(unreachable)s without e-mail (print their letters).", links=summary.links,
                    messages=summary.messages, unreachable=len(summary.unreachable)), "success")
    return redirect(url_for(".show_round", round_id=rnd.id))


def _pdf(data: bytes, name: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = attachment(name)
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
    round_id = request.form.get("round_id", type=int)
    back = round_id if request.form.get("back") == "round" else None
    if ActionForm().validate_on_submit():
        try:
            summary = send_person_links(db.session, actor=current_actor(), school_id=person.school_id,
                                        person_id=person.id, ctx=link_context(), now=utcnow())
            db.session.commit()
        except DomainError as err:
            db.session.rollback()
            flash(user_message(err), "error")
        else:
            deliver_if_configured()
            if summary.messages:
                flash(_("%(n)s e-mail(s) with the personal link are in the outbox.", n=summary.messages),
                      "success")
            reasons = [reason for _person, reason in summary.unreachable]
            if "no e-mail address" in reasons:
                flash(_("No e-mail address for %(n)s signer(s): print the letter with the link.",
                        n=reasons.count("no e-mail address")), "warning")
            if "no guardian" in reasons:
                flash(_("No guardian is registered for this person, so no link can be sent. Add a "
                        "guardian first."), "error")
            if "no date of birth" in reasons:
                flash(_("The date of birth is unknown, so nobody can tell who signs and no link is sent. "
                        "Record the date of birth first."), "error")
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
        deliver_if_configured()
        flash(_("Message queued.") if queued else _("No e-mail address: print the letter with the link."),
              "success" if queued else "warning")
    return _back_to(link)


def deliver_if_configured() -> None:
    """With SMTP configured, the worker sends the outbox; without, it stays viewable."""
    if current_app.config.get("MAIL_SERVER"):
        from consentflow.jobs import enqueue

        enqueue("outbox.send")

