"""Flask-Admin screen for accounts: roles per administered school, credentials only when all are ours."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import abort, current_app, flash, redirect, request
from flask_admin import expose
from flask_admin.contrib.sqla import ModelView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import inspect, select
from wtforms import PasswordField, SelectMultipleField
from wtforms.validators import Optional as OptionalValidator

from consentflow.admin.base import refuse
from consentflow.admin.columns import DutchColumns
from consentflow.audit.service import record_event
from consentflow.auth.access import current_actor, has_role, require_school, roles_of, schools_of
from consentflow.auth.accounts import (
    check_credential_change,
    check_new_email,
    may_manage_credentials,
    parse_role_choices,
    set_roles,
)
from consentflow.auth.link_mail import send_link
from consentflow.auth.passwords import hash_password
from consentflow.auth.service import check_password_strength, normalise_email, set_password
from consentflow.auth.sessions import end_all_sessions
from consentflow.errors import DomainError, InvalidInput, user_message
from consentflow.extensions import db
from consentflow.labels import label
from consentflow.models import Membership, School, User, utcnow
from consentflow.models.user import ROLES
from consentflow.signin.views import deliver_outbox, link_url


def _send_invitation(user: User) -> None:
    send_link(db.session, actor=current_actor(), user=user, purpose="invite",
              secret_key=current_app.config["SECRET_KEY"],
              valid_for=timedelta(hours=current_app.config["ACCOUNT_INVITE_HOURS"]),
              link_url=link_url(), now=utcnow(), school_id=require_school().id)


def administered_schools() -> dict[int, School]:
    """The schools in which the current user is an administrator."""
    return {s.id: s for s in schools_of(current_user) if "admin" in roles_of(current_user, s)}


class UserView(DutchColumns, ModelView):
    """Accounts with a role in the current school; passwords are only ever hashed."""

    can_delete = False
    column_list = ("name", "email", "active", "last_login_at")
    column_searchable_list = ("name", "email")
    form_columns = ("name", "email", "active", "new_password", "roles")
    form_extra_fields = {
        "new_password": PasswordField(
            _l("New password"), validators=[OptionalValidator()],
            description=_l("Leave empty for a new user: they get an invitation by e-mail to choose "
                           "their own password or sign in with the school account.")),
        "roles": SelectMultipleField(_l("Roles in the schools you administer"), choices=[]),
    }
    edit_template = "admin/user_edit.html"

    def is_accessible(self) -> bool:
        return bool(current_user.is_authenticated and has_role("admin"))

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        return refuse()

    def _scope(self, query: Any) -> Any:
        school = require_school()
        ids = select(Membership.user_id).where(Membership.school_id == school.id)
        return query.filter(User.id.in_(ids))

    def get_query(self) -> Any:
        return self._scope(super().get_query())

    def get_count_query(self) -> Any:
        return self._scope(super().get_count_query())

    def get_one(self, id: Any) -> Any:
        if not str(id).isdigit():
            abort(404)
        obj = super().get_one(id)
        school = require_school()
        if obj is None or not any(m.school_id == school.id for m in obj.memberships):
            abort(404)
        return obj

    def _with_role_choices(self, form: Any) -> Any:
        form.roles.choices = [
            (f"{s.id}:{role}", f"{s.name}: {label(role, 'role')}")
            for s in sorted(administered_schools().values(), key=lambda s: s.name)
            for role in ROLES
        ]
        return form

    def create_form(self, obj: Any = None) -> Any:
        return self._with_role_choices(super().create_form(obj))

    def edit_form(self, obj: Any = None) -> Any:
        return self._with_role_choices(super().edit_form(obj))

    def on_form_prefill(self, form: Any, id: Any) -> None:
        user = self.get_one(id)
        ours = administered_schools()
        form.roles.data = [f"{m.school_id}:{m.role}" for m in user.memberships if m.school_id in ours]
        # Say up front when the account is shared with a school this administrator does not run.
        if not may_manage_credentials(user, set(ours)):
            flash(_("This user also works at another school: you can change only their roles "
                    "in your schools."), "info")

    def on_model_change(self, form: Any, model: User, is_created: bool) -> None:
        with db.session.no_autoflush:  # a new row is not complete until its password is hashed
            ours = administered_schools()
            wanted = parse_role_choices(form.roles.data or [], ours)
            if is_created:
                model.email = check_new_email(db.session, model.email or "")
            # Read before anything flushes: a flush forgets what the form changed.
            state: Any = inspect(model).attrs
            changed = [f for f in ("email", "active") if state[f].history.has_changes()]
        actor = current_actor()
        password = form.new_password.data
        invite = False
        if is_created:
            if not wanted:
                raise InvalidInput(_("Give the new account at least one role in a school you administer."))
            if password:
                check_password_strength(password)
                model.password_hash = hash_password(password)
            else:
                # No password typed: the user chooses one (or the school account) through an invitation.
                model.password_hash = hash_password(secrets.token_urlsafe(32))
                invite = True
            model.session_token = secrets.token_hex(16)
            db.session.add(model)
            db.session.flush()
        else:
            model.email = normalise_email(model.email)
            if password:
                changed.append("password")
            check_credential_change(model, set(ours), changed)
            if "active" in changed and not model.active:
                end_all_sessions(db.session, actor=actor, user_id=model.id, now=utcnow(),
                                 reason="deactivated", school_id=require_school().id)
            if password:
                # Ends the user's sessions and API tokens, audited.
                set_password(db.session, actor=actor, user=model, password=password)
        roles = set_roles(db.session, actor=actor, user=model, wanted=wanted, schools=ours)
        if invite:
            _send_invitation(model)
        record_event(
            db.session, actor=actor, school_id=require_school().id,
            action="user.create" if is_created else "user.update", object_type="user",
            object_id=model.id,
            details={"roles": {str(k): v for k, v in roles.items()}, "password_changed": bool(password)},
            personal={"email": model.email, "name": model.name},
        )

    def after_model_change(self, form: Any, model: User, is_created: bool) -> None:
        deliver_outbox()  # after the commit: the invitation mail is in the outbox

    @expose("/invite/", methods=["POST"])
    def invite_view(self) -> Any:
        """Send (again) an invitation link: the user sets a password or uses the school account."""
        user = self.get_one(request.args.get("id", ""))
        try:
            check_credential_change(user, set(administered_schools()), ["password"])
            _send_invitation(user)
        except DomainError as err:
            db.session.rollback()
            flash(user_message(err), "error")
        else:
            db.session.commit()
            deliver_outbox()
            flash(_("An invitation is on its way to %(email)s.", email=user.email), "info")
        return redirect(self.get_url(".edit_view", id=user.id))

    def handle_view_exception(self, exc: Exception) -> bool:
        if isinstance(exc, DomainError):
            flash(user_message(exc), "error")
            return True
        return bool(super().handle_view_exception(exc))

    @expose("/end-sessions/", methods=["POST"])
    def end_sessions_view(self) -> Any:
        """End every session of a user of this school (a lost phone, a departing colleague)."""
        user = self.get_one(request.args.get("id", ""))
        ended = end_all_sessions(db.session, actor=current_actor(), user_id=user.id, now=utcnow(),
                                 reason="administrator", school_id=require_school().id)
        db.session.commit()
        flash(_("%(count)d session(s) ended.", count=ended), "info")
        return redirect(self.get_url(".edit_view", id=user.id))
