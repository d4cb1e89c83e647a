"""Flask-Admin model views: columns, filters and formatters only."""

from __future__ import annotations

from typing import Any

from flask import abort, url_for
from flask_admin.contrib.sqla import ModelView
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import inspect, select

from consentflow.admin.base import ReadOnlyScopedView, SchoolScopedView, refuse
from consentflow.admin.columns import DutchColumns, coded, decisions_formatter, purposes_formatter
from consentflow.admin.users import UserView  # noqa: F401  (re-exported for setup and tests)
from consentflow.audit.chain import ALTERED, ERASED, personal_display
from consentflow.audit.service import record_event
from consentflow.auth.access import current_actor, has_role, require_school, schools_of
from consentflow.errors import InvalidState
from consentflow.events import PersonLeft, emit
from consentflow.extensions import db
from consentflow.labels import LABELS
from consentflow.models import ConsentForm, Guardian, Person, School, SchoolYear, utcnow
from consentflow.models.consent import form_is_signed


def _of_school(model: Any, order: Any) -> list[Any]:
    """Choices for relationship fields: only the current school's rows."""
    school = require_school()
    return list(db.session.scalars(select(model).where(model.school_id == school.id).order_by(order)))


class SchoolView(DutchColumns, ModelView):
    """Settings of the schools the user administers; schools are created by CLI."""

    can_create = False
    can_delete = False
    column_list = ("name", "slug", "locale", "biometric_mode", "block_face_share")
    form_columns = ("name", "locale", "biometric_mode", "block_face_share",
                    "year_start_month", "year_start_day")
    form_choices = {
        "biometric_mode": [(k, v) for k, v in LABELS["biometric_mode"].items()],
        "locale": [(k, v) for k, v in LABELS["locale"].items()],
    }
    column_formatters = {"biometric_mode": coded("biometric_mode"), "locale": coded("locale")}

    def is_accessible(self) -> bool:
        return bool(current_user.is_authenticated and has_role("admin"))

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        return refuse()

    def _admin_school_ids(self) -> list[int]:
        from consentflow.auth.access import roles_of

        return [s.id for s in schools_of(current_user) if "admin" in roles_of(current_user, s)]

    def get_query(self) -> Any:
        return super().get_query().filter(School.id.in_(self._admin_school_ids()))

    def get_count_query(self) -> Any:
        return super().get_count_query().filter(School.id.in_(self._admin_school_ids()))

    def get_one(self, id: Any) -> Any:
        obj = super().get_one(id)
        if obj is None or obj.id not in self._admin_school_ids():
            abort(404)
        return obj

    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        record_event(db.session, actor=current_actor(), school_id=model.id, action="school.update",
                     object_type="school", object_id=model.id,
                     details={"biometric_mode": model.biometric_mode,
                              "block_face_share": model.block_face_share})


class PersonView(SchoolScopedView):
    audit_type = "person"
    column_list = ("external_id", "first_name", "last_name", "kind", "group_name",
                   "date_of_birth", "left_on")
    column_searchable_list = ("external_id", "first_name", "last_name")
    column_filters = ("kind", "group_name", "left_on")
    form_columns = ("kind", "external_id", "first_name", "last_name", "date_of_birth",
                    "group_name", "email", "enrolled_on", "left_on", "guardians")
    can_delete = False  # people are marked left, or erased through the service
    form_choices = {"kind": [(k, v) for k, v in LABELS["person_kind"].items()]}
    column_formatters = {"kind": coded("person_kind")}
    form_args = {"guardians": {"query_factory": lambda: _of_school(Guardian, Guardian.name)}}

    def subject_ids(self, model: Any) -> list[int]:
        return [model.id]

    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        newly_left = model.left_on is not None and (
            is_created or inspect(model).attrs.left_on.history.has_changes()
        )
        super().on_model_change(form, model, is_created)
        if newly_left:
            # Same rule as the roster import: someone who left keeps no reference faces.
            emit(db.session, PersonLeft(model.school_id, model.id, model.left_on, utcnow()))


class GuardianView(SchoolScopedView):
    audit_type = "guardian"
    can_delete = False  # guardians change through the roster import
    column_list = ("name", "email", "phone")
    column_searchable_list = ("name", "email")
    form_columns = ("name", "email", "phone", "children")
    form_args = {"children": {"query_factory": lambda: _of_school(Person, Person.last_name)}}

    def subject_ids(self, model: Any) -> list[int]:
        return [child.id for child in model.children]


class ConsentFormView(SchoolScopedView):
    """Form versions; one that families have signed is frozen (a change is a new version)."""

    audit_type = "consent_form"
    can_delete = False
    column_list = ("title", "version", "school_year", "created_at")
    form_columns = ("school_year", "version", "title", "wording")
    form_args = {"school_year": {"query_factory": lambda: _of_school(SchoolYear, SchoolYear.starts_on)}}
    edit_template = "admin/consentform_edit.html"
    column_formatters_detail = {"purposes": purposes_formatter}

    def is_signed(self, model: ConsentForm) -> bool:
        return form_is_signed(db.session.connection(), model.id)

    def new_version_url(self, model: ConsentForm) -> str:
        params: dict[str, Any] = {"from": model.id}  # "from" is a keyword in Python
        return url_for("consent.new_form", **params)

    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        if not is_created and self.is_signed(model):
            raise InvalidState(_("Families have signed this version, so its wording cannot change. "
                                 "Make a new version from it instead."))
        super().on_model_change(form, model, is_created)


class ConsentRecordView(ReadOnlyScopedView):
    column_list = ("id", "person", "school_year", "signer_kind", "signer_name", "method",
                   "signed_at", "supersedes_id", "decisions")
    column_formatters = {"decisions": decisions_formatter, "signer_kind": coded("signer_kind"),
                         "method": coded("method")}
    column_formatters_detail = column_formatters
    column_filters = ("method", "signer_kind")
    column_default_sort = ("id", True)


def _personal_formatter(view: Any, context: Any, model: Any, name: str) -> Markup:
    """Only values whose commitment verifies are shown; erased or altered ones say so."""
    words = {ERASED: _("[erased]"), ALTERED: _("[altered: does not verify]")}
    shown = personal_display(model.personal or {})
    return Markup("<br>").join(Markup("{}: {}").format(k, words.get(v, v)) for k, v in shown.items())


class AuditEventView(ReadOnlyScopedView):
    column_list = ("id", "at", "actor_label", "action", "object_type", "object_id", "hash")
    column_details_list = ("id", "at", "actor_label", "actor_id", "action", "object_type", "object_id",
                           "details", "personal", "subject_ids", "prev_hash", "hash", "hash_version")
    column_formatters = {"action": coded("audit_action"), "object_type": coded("object_type")}
    column_formatters_detail = {"personal": _personal_formatter, **column_formatters}
    column_filters = ("action", "object_type", "actor_label")
    column_default_sort = ("id", True)
    can_view_details = True

