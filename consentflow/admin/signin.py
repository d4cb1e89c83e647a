"""Admin screen: the school's own sign-in service (OpenID Connect), saved through auth.oidc."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from consentflow.auth.access import current_actor, has_role, require_school
from consentflow.auth.oidc import BOX_PURPOSE, ProviderSettings, save_provider
from consentflow.auth.secret_box import SecretBox
from consentflow.consent.links import link_context_from
from consentflow.errors import DomainError, user_message
from consentflow.extensions import db
from consentflow.models import SignInProvider, utcnow


class ProviderForm(FlaskForm):
    name = StringField(_l("Button text (e.g. Entree, Microsoft, Google)"), validators=[DataRequired(), Length(max=120)])
    issuer = StringField(_l("Issuer URL"), validators=[DataRequired(), Length(max=500)])
    client_id = StringField(_l("Client id"), validators=[DataRequired(), Length(max=255)])
    client_secret = PasswordField(_l("Client secret (leave empty to keep the stored one)"),
                                  validators=[Optional(), Length(max=1000)])
    scopes = StringField(_l("Scopes"), default="openid email profile", validators=[DataRequired(), Length(max=300)])
    email_claim = StringField(_l("Claim with the e-mail address"), default="email",
                              validators=[DataRequired(), Length(max=80)])
    allowed_domains = StringField(_l("Allowed e-mail domains (comma-separated)"), validators=[Length(max=500)])
    org_claim = StringField(_l("Organisation claim (e.g. tid, hd, schac_home_organization)"),
                            validators=[Length(max=80)])
    org_values = StringField(_l("Allowed values of the organisation claim (comma-separated)"),
                             validators=[Length(max=500)])
    enabled = BooleanField(_l("Sign-in with this service is on"), default=True)
    submit = SubmitField(_l("Save"))


class SignInProviderView(BaseView):
    """Only administrators of the current school, only that school's provider."""

    def is_accessible(self) -> bool:
        return bool(current_user.is_authenticated and has_role("admin"))

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.path))
        abort(403)

    @expose("/", methods=["GET", "POST"])
    def index(self) -> Any:
        school = require_school()
        row = db.session.scalar(select(SignInProvider).where(SignInProvider.school_id == school.id))
        form = ProviderForm(obj=row)
        if form.validate_on_submit():
            settings = ProviderSettings(
                name=form.name.data or "", issuer=form.issuer.data or "", client_id=form.client_id.data or "",
                client_secret=form.client_secret.data or None, email_claim=form.email_claim.data or "email",
                allowed_domains=form.allowed_domains.data or "", org_claim=form.org_claim.data or "",
                org_values=form.org_values.data or "", scopes=form.scopes.data or "",
                enabled=bool(form.enabled.data))
            try:
                save_provider(db.session, actor=current_actor(), school_id=school.id, settings=settings,
                              box=SecretBox(current_app.config["SECRET_KEY"], BOX_PURPOSE), now=utcnow(),
                              allow_http=bool(current_app.config.get("OIDC_ALLOW_HTTP")))
            except DomainError as err:
                db.session.rollback()
                flash(user_message(err), "error")
            else:
                db.session.commit()
                flash(_("Sign-in with the school account is saved."), "success")
                return redirect(self.get_url(".index"))
        callback = None
        if row is not None:
            try:
                callback = link_context_from(current_app.config).base_url + url_for(
                    "signin.oidc_callback", provider_id=row.id)
            except DomainError:
                callback = None  # the page says PUBLIC_BASE_URL must be set first
        return self.render("admin/signin_provider.html", form=form, school=school, callback=callback,
                           has_secret=bool(row and row.client_secret_sealed))
