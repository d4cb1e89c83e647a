"""Flask-Admin model views: columns, filters and formatters only."""

from __future__ import annotations

import secrets
from typing import Any

from flask import abort
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import inspect, select
from wtforms import PasswordField, SelectMultipleField
from wtforms.validators import Optional as OptionalValidator

from consentflow.admin.base import ReadOnlyScopedView, SchoolScopedView
from consentflow.audit.chain import personal_display
from consentflow.audit.service import record_event
from consentflow.auth.access import current_actor, has_role, require_school, schools_of
from consentflow.auth.passwords import hash_password
from consentflow.auth.service import check_password_strength, grant_role, normalise_email, set_password
from consentflow.errors import InvalidInput
from consentflow.events import PersonLeft, emit
from consentflow.extensions import db
from consentflow.models import Guardian, Membership, Person, School, SchoolYear, User, utcnow
from consentflow.models.user import ROLES


def _of_school(model: Any, order: Any) -> list[Any]:
    """Choices for relationship fields: only the current school's rows."""
    school = require_school()
    return list(db.session.scalars(select(model).where(model.school_id == school.id).order_by(order)))


class SchoolView(ModelView):
    """Settings of the schools the user administers; schools are created by CLI."""

    can_create = False
    can_delete = False
    column_list = ("name", "slug", "locale", "biometric_mode", "block_face_share")
    form_columns = ("name", "locale", "biometric_mode", "block_face_share",
                    "year_start_month", "year_start_day")
    form_choices = {
        "biometric_mode": [("all", "all"), ("consented", "consented"), ("off", "off")],
        "locale": [("nl", "Nederlands"), ("en", "English")],
    }

    def is_accessible(self) -> bool:
        return bool(current_user.is_authenticated and has_role("admin"))

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        abort(403)

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


class UserView(ModelView):
    """Accounts with a role in the current school; passwords are only ever hashed."""

    can_delete = False
    column_list = ("name", "email", "active", "last_login_at")
    column_searchable_list = ("name", "email")
    form_columns = ("name", "email", "active", "new_password", "roles")
    form_extra_fields = {
        "new_password": PasswordField("New password", validators=[OptionalValidator()]),
        "roles": SelectMultipleField("Roles in this school", choices=[(r, r) for r in ROLES]),
    }

    def is_accessible(self) -> bool:
        return bool(current_user.is_authenticated and has_role("admin"))

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        abort(403)

    def _scope(self, query: Any) -> Any:
        school = require_school()
        ids = select(Membership.user_id).where(Membership.school_id == school.id)
        return query.filter(User.id.in_(ids))

    def get_query(self) -> Any:
        return self._scope(super().get_query())

    def get_count_query(self) -> Any:
        return self._scope(super().get_count_query())

    def get_one(self, id: Any) -> Any:
        obj = super().get_one(id)
        school = require_school()
        if obj is None or not any(m.school_id == school.id for m in obj.memberships):
            abort(404)
        return obj

    def on_form_prefill(self, form: Any, id: Any) -> None:
        school = require_school()
        user = self.get_one(id)
        form.roles.data = [m.role for m in user.memberships if m.school_id == school.id]

    def on_model_change(self, form: Any, model: User, is_created: bool) -> None:
        school = require_school()
        model.email = normalise_email(model.email)
        password = form.new_password.data
        if is_created and not password:
            raise InvalidInput("A new account needs a password.")
        if is_created:
            check_password_strength(password)
            model.password_hash = hash_password(password)
            model.session_token = secrets.token_hex(16)
            db.session.add(model)
            db.session.flush()
        elif password:
            # Ends the user's sessions and API tokens, audited.
            set_password(db.session, actor=current_actor(), user=model, password=password)
        wanted = set(form.roles.data or [])
        for membership in list(model.memberships):
            if membership.school_id == school.id and membership.role not in wanted:
                model.memberships.remove(membership)
        for role in wanted:
            grant_role(db.session, actor=current_actor(), user=model, school=school, role=role)
        if is_created and not wanted:
            raise InvalidInput("Give the new account at least one role in this school.")
        record_event(
            db.session, actor=current_actor(), school_id=school.id,
            action="user.create" if is_created else "user.update", object_type="user",
            object_id=model.id, details={"roles": sorted(wanted), "password_changed": bool(password)},
            personal={"email": model.email, "name": model.name},
        )

    def handle_view_exception(self, exc: Exception) -> bool:
        if isinstance(exc, InvalidInput):
            from flask import flash

            flash(exc.message, "error")
            return True
        return bool(super().handle_view_exception(exc))


class PersonView(SchoolScopedView):
    audit_type = "person"
    column_list = ("external_id", "first_name", "last_name", "kind", "group_name",
                   "date_of_birth", "left_on")
    column_searchable_list = ("external_id", "first_name", "last_name")
    column_filters = ("kind", "group_name", "left_on")
    form_columns = ("kind", "external_id", "first_name", "last_name", "date_of_birth",
                    "group_name", "email", "enrolled_on", "left_on", "guardians")
    can_delete = False  # people are marked left, or erased through the service
    form_choices = {"kind": [("student", "student"), ("staff", "staff")]}
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
    audit_type = "consent_form"
    can_delete = False
    column_list = ("title", "version", "school_year", "created_at")
    form_columns = ("school_year", "version", "title", "wording")
    form_args = {"school_year": {"query_factory": lambda: _of_school(SchoolYear, SchoolYear.starts_on)}}


def _decisions_formatter(view: Any, context: Any, model: Any, name: str) -> Markup:
    items = sorted((model.decisions or {}).items())
    return Markup(", ").join(
        Markup("{}: <strong>{}</strong>").format(escape(k), "yes" if v else "no") for k, v in items
    )


class ConsentRecordView(ReadOnlyScopedView):
    column_list = ("id", "person", "school_year", "signer_kind", "signer_name", "method",
                   "signed_at", "supersedes_id", "decisions")
    column_formatters = {"decisions": _decisions_formatter}
    column_filters = ("method", "signer_kind")
    column_default_sort = ("id", True)


def _personal_formatter(view: Any, context: Any, model: Any, name: str) -> Markup:
    """Only values whose commitment verifies are shown; erased or altered ones say so."""
    shown = personal_display(model.personal or {})
    return Markup("<br>").join(Markup("{}: {}").format(k, v) for k, v in shown.items())


class AuditEventView(ReadOnlyScopedView):
    column_list = ("id", "at", "actor_label", "action", "object_type", "object_id", "hash")
    column_details_list = ("id", "at", "actor_label", "actor_id", "action", "object_type", "object_id",
                           "details", "personal", "subject_ids", "prev_hash", "hash", "hash_version")
    column_formatters_detail = {"personal": _personal_formatter}
    column_filters = ("action", "object_type", "actor_label")
    column_default_sort = ("id", True)
    can_view_details = True

