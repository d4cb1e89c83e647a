"""Secure base views: every admin view checks role and school (default is allow-all)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user

from consentflow.admin.columns import DutchColumns
from consentflow.audit.service import record_event
from consentflow.auth.access import current_actor, has_role, require_school
from consentflow.errors import DomainError, user_message
from consentflow.extensions import db


def refuse() -> Any:
    """Every admin view's answer to a request it may not serve: anonymous to the
    login page (like the rest of the site), a logged-in user without the role 403."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.path))
    abort(403)


class SecureIndexView(AdminIndexView):
    def is_accessible(self) -> bool:
        return bool(current_user.is_authenticated and has_role("admin", "privacy"))

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        return refuse()

    @expose("/")
    def index(self) -> Any:
        return self.render("admin/cf_index.html")


class SchoolScopedView(DutchColumns, ModelView):
    """A model view limited to the current school, audited on every change."""

    required_roles: tuple[str, ...] = ("admin",)
    school_column = "school_id"
    audit_type = "record"
    page_size = 50
    can_view_details = True

    def is_accessible(self) -> bool:
        return bool(current_user.is_authenticated and has_role(*self.required_roles))

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        return refuse()

    def _school_filter(self, query: Any) -> Any:
        school = require_school()
        return query.filter(getattr(self.model, self.school_column) == school.id)

    def get_query(self) -> Any:
        return self._school_filter(super().get_query())

    def get_count_query(self) -> Any:
        return self._school_filter(super().get_count_query())

    def get_one(self, id: Any) -> Any:
        obj = super().get_one(id)
        if obj is None or getattr(obj, self.school_column) != require_school().id:
            abort(404)
        return obj

    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        school = require_school()
        if is_created:
            setattr(model, self.school_column, school.id)
        elif getattr(model, self.school_column) != school.id:
            abort(404)
        db.session.flush()
        record_event(
            db.session, actor=current_actor(), school_id=school.id,
            action=f"{self.audit_type}.{'create' if is_created else 'update'}",
            object_type=self.audit_type, object_id=model.id,
            details={"fields": sorted(form.data.keys()) if form is not None else []},
            subject_ids=self.subject_ids(model),
        )

    def on_model_delete(self, model: Any) -> None:
        record_event(
            db.session, actor=current_actor(), school_id=require_school().id,
            action=f"{self.audit_type}.delete", object_type=self.audit_type, object_id=model.id,
            subject_ids=self.subject_ids(model),
        )

    def subject_ids(self, model: Any) -> list[int]:
        return []

    def handle_view_exception(self, exc: Exception) -> bool:
        # A refused business rule is a message on the form, never a 500.
        if isinstance(exc, DomainError):
            flash(user_message(exc), "error")
            return True
        return bool(super().handle_view_exception(exc))


class ReadOnlyScopedView(SchoolScopedView):
    """Evidence is shown, never edited here (changes go through services)."""

    can_create = False
    can_edit = False
    can_delete = False
    required_roles = ("admin", "privacy")
