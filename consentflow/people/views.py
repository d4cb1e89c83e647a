"""Roster import page: upload an export, see the per-row report, confirm who leaves."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from consentflow.auth.access import current_actor, require_role, require_school
from consentflow.consent.signer import local_date
from consentflow.errors import DomainError, user_message
from consentflow.extensions import db
from consentflow.home.views import Tile, add_tile
from consentflow.models import utcnow
from consentflow.people.forms import ConfirmLeaversForm, RosterImportForm
from consentflow.people.leavers import confirm_leavers
from consentflow.people.rows import RosterFileError
from consentflow.people.service import import_roster

bp = Blueprint("people", __name__, url_prefix="/people")

add_tile(Tile(_l("Roster import"), _l("Import students and staff from the administration system."),
              "people.import_roster", frozenset({"admin"})))

MAX_UPLOAD = 20 * 1024 * 1024


def _message(err: DomainError) -> str:
    return err.translated() if isinstance(err, RosterFileError) else user_message(err)


@bp.route("/import", methods=["GET", "POST"], endpoint="import_roster")
@require_role("admin")
def import_roster_view() -> Any:
    school = require_school()
    form = RosterImportForm()
    report = None
    error = None
    if form.validate_on_submit():
        data = form.file.data.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            error = _("The file is larger than 20 MB.")
        else:
            now = utcnow()
            try:
                report = import_roster(db.session, actor=current_actor(), school_id=school.id, data=data,
                                       kind=form.kind.data or "student", today=local_date(now), now=now,
                                       full_export=bool(form.full_export.data), dry_run=bool(form.dry_run.data),
                                       secret=current_app.config["SECRET_KEY"])
            except DomainError as err:
                db.session.rollback()
                error = _message(err)
            else:
                if report.dry_run:
                    db.session.rollback()
                else:
                    db.session.commit()
    status = 400 if error or (form.errors and form.is_submitted()) else 200
    return render_template("people/import.html", form=form, report=report, error=error, confirmed=None,
                           confirm_form=ConfirmLeaversForm(formdata=None)), status


@bp.route("/import/leavers", methods=["POST"], endpoint="confirm_leavers")
@require_role("admin")
def confirm_leavers_view() -> Any:
    """The second, explicit step: mark exactly the list that was shown as left."""
    school = require_school()
    confirm_form = ConfirmLeaversForm()
    error = None
    confirmed = None
    status = 200
    if not confirm_form.validate_on_submit():
        error, status = _("This confirmation is not valid; import the file again."), 400
    else:
        now = utcnow()
        try:
            confirmed = confirm_leavers(db.session, actor=current_actor(), school_id=school.id,
                                        token=confirm_form.token.data or "",
                                        secret=current_app.config["SECRET_KEY"],
                                        today=local_date(now), now=now)
        except DomainError as err:
            db.session.rollback()
            error, status = _message(err), err.status_code
        else:
            db.session.commit()
    return render_template("people/import.html", form=RosterImportForm(formdata=None), report=None,
                           error=error, confirmed=confirmed,
                           confirm_form=ConfirmLeaversForm(formdata=None)), status
