"""Column labels and value formatters shared by every Flask-Admin screen.

Flask-Admin shows field names and raw values by default (``signer_kind``,
``paper``, UTC with microseconds); the app shows words in the user's
language and times as the school sees them. One table of column labels
serves every view, so a field is called the same everywhere.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_admin.model import typefmt
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from consentflow.labels import label, local_dt, purpose_label

COLUMN_LABELS = {
    "id": "#", "name": _l("Name"), "slug": _l("Short name"), "locale": _l("Language"),
    "biometric_mode": _l("Face recognition"), "block_face_share": _l("Largest blurred face share"),
    "year_start_month": _l("School year starts (month)"), "year_start_day": _l("School year starts (day)"),
    "external_id": _l("Student number"), "first_name": _l("First name"), "last_name": _l("Last name"),
    "kind": _l("Kind"), "group_name": _l("Group"), "date_of_birth": _l("Date of birth"),
    "left_on": _l("Left on"), "email": _l("E-mail"), "enrolled_on": _l("Enrolled on"),
    "guardians": _l("Parents and guardians"), "phone": _l("Phone"), "children": _l("Children"),
    "title": _l("Title"), "version": _l("Version"), "school_year": _l("School year"),
    "created_at": _l("Created"), "wording": _l("Wording"), "person": _l("Person"),
    "signer_kind": _l("Signed by"), "signer_name": _l("Signer's name"), "method": _l("How"),
    "signed_at": _l("Signed"), "supersedes_id": _l("Replaces record"), "decisions": _l("Answers"),
    "at": _l("When"), "actor_label": _l("Who"), "actor_id": _l("User number"),
    "action": _l("Action"), "object_type": _l("Object"), "object_id": _l("Object number"),
    "hash": _l("Hash"), "prev_hash": _l("Previous hash"), "hash_version": _l("Hash version"),
    "details": _l("Details of the event"), "personal": _l("Personal data"), "subject_ids": _l("People concerned"),
    "active": _l("Active"), "last_login_at": _l("Last login"), "new_password": _l("New password"),
    "roles": _l("Roles"), "purposes": _l("Purposes asked"), "form": _l("Form"),
    "recorded_at": _l("Recorded"), "recorded_by": _l("Recorded by"),
    "evidence_sha256": _l("Evidence (sha256)"), "evidence_key": _l("Evidence file"),
    "evidence_note": _l("Note on the evidence"), "signer_guardian": _l("Signing guardian"),
    "submission_nonce": _l("Submission"), "school": _l("School"),
    "session_token": _l("Session key"), "board_admin_of": _l("Board administrator of"),
    "erased_at": _l("Erased on"), "memberships": _l("Roles"),
}


def _datetime(view: Any, value: datetime, name: str) -> str:
    return local_dt(value)


def _date(view: Any, value: date, name: str) -> str:
    return value.isoformat()


TYPE_FORMATTERS = {**typefmt.BASE_FORMATTERS, datetime: _datetime, date: _date}
DETAIL_TYPE_FORMATTERS = {**typefmt.DETAIL_FORMATTERS, datetime: _datetime, date: _date}


def coded(kind: str) -> Any:
    """A column formatter that shows a stored code as its label (``paper`` -> "op papier")."""

    def _format(view: Any, context: Any, model: Any, name: str) -> str:
        value = getattr(model, name)
        return label(value, kind) if value is not None else ""

    return _format


def decisions_formatter(view: Any, context: Any, model: Any, name: str) -> Markup:
    """A record's answers as purpose labels with yes/no."""
    items = sorted((model.decisions or {}).items())
    return Markup("<br>").join(
        Markup("{}: <strong>{}</strong>").format(escape(purpose_label(k)),
                                                 gettext("yes") if v else gettext("no"))
        for k, v in items)


def purposes_formatter(view: Any, context: Any, model: Any, name: str) -> Markup:
    """A form's purposes as the families read them."""
    return Markup("<br>").join(escape(purpose_label(p)) for p in (getattr(model, name) or []))


class DutchColumns:
    """Mixin for every model view: shared column labels and school-time-zone formatting."""

    column_labels = COLUMN_LABELS
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = DETAIL_TYPE_FORMATTERS
