"""A person's consent page: full history, evidence, and recording a paper or in-person answer."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms import BooleanField

from consentflow.audit.service import record_event
from consentflow.auth.access import current_actor, get_owned, require_role, require_school
from consentflow.consent.effective import effective_record
from consentflow.consent.evidence import evidence_path
from consentflow.consent.forms import ActionForm, RecordForm
from consentflow.consent.links import link_state
from consentflow.consent.purposes import purpose_label
from consentflow.consent.service import record_consent, record_history
from consentflow.consent.signer import SCHOOL_TZ, SigningDateInvalid, local_date, signers_of, signs_for_self
from consentflow.consent.years import latest_form, school_year_on
from consentflow.errors import DomainError, SignerRuleViolation, user_message
from consentflow.exports import download_name
from consentflow.extensions import db
from consentflow.models import ConsentForm, ConsentLink, ConsentRecord, Person, utcnow

bp = Blueprint("records", __name__, url_prefix="/consent/person")


def _history_rows(person: Person) -> list[dict[str, Any]]:
    today = local_date(utcnow())
    current = effective_record(db.session, person.id, "", today)
    rows = []
    for rec in record_history(db.session, person.id):
        rows.append({
            "record": rec, "in_force": current is not None and rec.id == current.id,
            "answers": [(purpose_label(p), yes) for p, yes in rec.decisions.items()],
            "signer": rec.signer_name, "signed_on": local_date(rec.signed_at),
        })
    return rows


@bp.route("/<int:person_id>")
@require_role("admin", "privacy")
def person(person_id: int) -> Any:
    subject = get_owned(Person, person_id)
    now = utcnow()
    links = list(db.session.scalars(select(ConsentLink).where(ConsentLink.person_id == subject.id)
                                    .order_by(ConsentLink.id.desc())))
    today = local_date(now)
    signers = signers_of(subject, today)  # the one definition coverage and reminders use too
    signer_rule = None
    if signers.problem == "no date of birth":
        try:
            signs_for_self(subject, today)
        except SignerRuleViolation as err:
            signer_rule = user_message(err)
    return render_template(
        "consent/person.html", subject=subject, rows=_history_rows(subject),
        links=[(lk, link_state(lk, now).label) for lk in links], self_signer=signers.self_signs,
        no_guardian=signers.problem == "no guardian", signer_rule=signer_rule, action_form=ActionForm())


def _signing_date_message(err: SigningDateInvalid, consent_form: ConsentForm) -> str:
    year = consent_form.school_year
    if err.reason == "future":
        return _("The signing date %(date)s lies in the future. Enter the date on the signed form.",
                 date=err.signed_on.isoformat())
    if err.reason == "outside_year":
        return _("This form belongs to school year %(year)s (%(start)s to %(end)s); a form signed on "
                 "%(date)s does not count for it. Enter the date on the signed form, or choose the form "
                 "of the school year in which it was signed.", year=year.label,
                 start=year.starts_on.isoformat(), end=year.ends_on.isoformat(),
                 date=err.signed_on.isoformat())
    return _("Version %(version)s of this form exists since %(since)s, so it cannot have been signed on "
             "%(date)s. Choose the version that was signed.", version=consent_form.version,
             since=err.first.isoformat(), date=err.signed_on.isoformat())


def _form_for(subject: Person, consent_form: ConsentForm) -> RecordForm:
    class _Form(RecordForm):
        pass

    for purpose in consent_form.purposes:
        setattr(_Form, f"p__{purpose}", BooleanField(purpose_label(purpose)))
    form = _Form()
    form.signer.choices = [(f"g{g.id}", g.name) for g in subject.guardians] + [
        ("self", _("%(name)s themself", name=subject.full_name))]
    return form


@bp.route("/<int:person_id>/record", methods=["GET", "POST"])
@require_role("admin")
def record(person_id: int) -> Any:
    subject = get_owned(Person, person_id)
    school = require_school()
    form_id = request.values.get("form_id", type=int)
    if form_id:
        consent_form: ConsentForm | None = get_owned(ConsentForm, form_id)
    else:
        year = school_year_on(db.session, school.id, local_date(utcnow()))
        consent_form = latest_form(db.session, year.id) if year else None
    if consent_form is None:
        flash(_("Create the school year and its form first."), "error")
        return redirect(url_for("consent.index"))
    form = _form_for(subject, consent_form)
    forms = list(db.session.scalars(select(ConsentForm).where(ConsentForm.school_id == school.id)
                                    .order_by(ConsentForm.id.desc())))
    if request.method == "GET":
        form.form_id.data = str(consent_form.id)
        form.signed_on.data = local_date(utcnow())
    if form.validate_on_submit() and form.signed_on.data is not None:
        signer = form.signer.data or ""
        guardian_id = int(signer[1:]) if signer.startswith("g") and signer[1:].isdigit() else None
        upload = form.evidence.data
        evidence = upload.read() if upload else None
        # Noon, school time: the signing date is what the signer rule looks at.
        signed_at = datetime.combine(form.signed_on.data, time(12, 0), SCHOOL_TZ)
        now = utcnow()
        if form.signed_on.data == local_date(now):
            signed_at = min(signed_at, now)  # signed this morning; a later date stays refused
        decisions = {p: bool(getattr(form, f"p__{p}").data) for p in consent_form.purposes}
        try:
            rec = record_consent(
                db.session, actor=current_actor(), person_id=subject.id,
                school_year_id=consent_form.school_year_id, form_id=consent_form.id, decisions=decisions,
                signer_kind="guardian" if guardian_id else "self", signer_guardian_id=guardian_id,
                signer_name=form.signer_name.data, method=form.method.data or "paper",
                signed_at=signed_at, evidence=evidence or None,
                evidence_filename=getattr(upload, "filename", None),
                storage_dir=current_app.config["STORAGE_DIR"], now=now,
                evidence_note=form.note.data or None)
            db.session.commit()
        except SigningDateInvalid as err:
            db.session.rollback()
            form.signed_on.errors = [*form.signed_on.errors, _signing_date_message(err, consent_form)]
        except DomainError as err:
            db.session.rollback()
            form.signer.errors = [*form.signer.errors, user_message(err)]
        else:
            flash(_("Consent recorded (record #%(id)s).", id=rec.id), "success")
            return redirect(url_for(".person", person_id=subject.id))
    purposes = [(getattr(form, f"p__{p}"), p) for p in consent_form.purposes]
    return render_template("consent/record.html", subject=subject, form=form, consent_form=consent_form,
                           forms=forms, purposes=purposes), (400 if form.errors else 200)


@bp.route("/evidence/<int:record_id>")
@require_role("admin", "privacy")
def evidence(record_id: int) -> Any:
    rec = get_owned(ConsentRecord, record_id)
    if not rec.evidence_key:
        flash(_("This record has no evidence file."), "warning")
        return redirect(url_for(".person", person_id=rec.person_id))
    try:
        path = evidence_path(current_app.config["STORAGE_DIR"], rec.evidence_key)
    except DomainError as err:
        flash(user_message(err), "error")
        return redirect(url_for(".person", person_id=rec.person_id))
    record_event(db.session, actor=current_actor(), school_id=rec.school_id, action="consent.evidence_view",
                 object_type="consent_record", object_id=rec.id, subject_ids=[rec.person_id])
    db.session.commit()
    return send_file(path, as_attachment=True, download_name=download_name(
        f"consent-{rec.id}-evidence" + path[path.rfind("."):]), max_age=0)
