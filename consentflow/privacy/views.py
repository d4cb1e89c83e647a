"""Subject access and erasure pages (privacy: read-only export; admin: export and erase)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import DataRequired

from consentflow.auth.access import current_actor, get_owned, has_role, require_role, require_school
from consentflow.errors import DomainError, user_message
from consentflow.exports import attachment
from consentflow.extensions import db
from consentflow.home.views import Tile, add_tile
from consentflow.models import Person, utcnow
from consentflow.photos.storage import storage_from_config
from consentflow.privacy.cli import render_export_html
from consentflow.privacy.service import erase_person, subject_access_data, subject_access_export
from consentflow.review.service import search_people

bp = Blueprint("privacy", __name__, url_prefix="/privacy")

add_tile(Tile(_l("Subject access"), _l("Export or erase what is held about one person."),
              "privacy.index", frozenset({"privacy", "admin"})))


class ExportForm(FlaskForm):
    """CSRF only: an export is an audited action."""


class EraseForm(FlaskForm):
    confirm = BooleanField(_l("I understand that erasure cannot be undone."),
                           validators=[DataRequired()])


@bp.route("/")
@require_role("privacy", "admin")
def index() -> Any:
    query = request.args.get("q", "")
    people = search_people(db.session, require_school().id, query, limit=30) if query else []
    return render_template("privacy/index.html", query=query, people=people)


@bp.route("/person/<int:person_id>")
@require_role("privacy", "admin")
def person(person_id: int) -> Any:
    found = get_owned(Person, person_id)
    data = subject_access_data(db.session, require_school().id, found.id)
    return render_template("privacy/person.html", person=found, data=data,
                           export_form=ExportForm(), erase_form=EraseForm(),
                           may_erase=has_role("admin"))


@bp.route("/person/<int:person_id>/export", methods=["POST"])
@require_role("privacy", "admin")
def export(person_id: int) -> Any:
    found = get_owned(Person, person_id)
    if not ExportForm().validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("privacy.person", person_id=found.id))
    data = subject_access_export(db.session, actor=current_actor(), school_id=require_school().id,
                                 person_id=found.id, now=utcnow(), render_html=render_export_html)
    db.session.commit()
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = attachment(f"subject-access-{found.external_id}.zip")
    return response


@bp.route("/person/<int:person_id>/erase", methods=["POST"])
@require_role("admin")
def erase(person_id: int) -> Any:
    found = get_owned(Person, person_id)
    form = EraseForm()
    if not form.validate_on_submit():
        flash(_("Tick the box to confirm the erasure."), "error")
        return redirect(url_for("privacy.person", person_id=found.id))
    try:
        report = erase_person(db.session, actor=current_actor(), school_id=require_school().id,
                              person_id=found.id, now=utcnow(),
                              storage=storage_from_config(current_app.config))
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
        return redirect(url_for("privacy.person", person_id=found.id))
    db.session.commit()
    flash(_("Erased %(refs)d reference face(s) and %(enc)d face encoding(s); %(events)d audit "
            "event(s) pseudonymised.", refs=report.reference_faces, enc=report.face_encodings,
            events=report.audit_events), "success")
    return redirect(url_for("privacy.person", person_id=found.id))
