"""School-account sign-in (OpenID Connect), the second factor, invitations and password reset."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from markupsafe import Markup

from consentflow.audit.service import Actor
from consentflow.auth import oidc
from consentflow.auth import second_factor as tfa
from consentflow.auth.access import current_actor, require_role
from consentflow.auth.link_mail import send_link
from consentflow.auth.links import (
    ENROL_PURPOSE,
    LinkInvalid,
    check_link,
    reset_candidate,
    sent_recently,
    use_link_for_enrolment,
    use_link_for_password,
    use_link_for_school_account,
)
from consentflow.auth.secret_box import SecretBox
from consentflow.auth.throttle import LoginThrottled
from consentflow.auth.views import (
    ANY_ROLE,
    PENDING_KEY,
    complete_login,
    login_policy,
    mailbox_proof,
    pending_next,
    pending_user,
    remember_mailbox_proof,
)
from consentflow.consent.links import link_context_from
from consentflow.errors import DomainError, user_message
from consentflow.extensions import db
from consentflow.models import SignInProvider, User, utcnow
from consentflow.signin.forms import (
    CodeForm,
    EnrolForm,
    EnrolLinkForm,
    ForgotForm,
    NewPasswordForm,
    SendEnrolLinkForm,
)
from consentflow.signin.oidc_client import client_for

bp = Blueprint("signin", __name__)

OIDC_PROVIDER_KEY = "oidc_provider_id"


def _totp_box() -> SecretBox:
    return SecretBox(current_app.config["SECRET_KEY"], tfa.BOX_PURPOSE)


def deliver_outbox() -> None:
    """With SMTP configured the worker sends the outbox now (after the commit)."""
    if current_app.config.get("MAIL_SERVER"):
        from consentflow.jobs import enqueue

        enqueue("outbox.send")


def link_url() -> str:
    base = link_context_from(current_app.config).base_url
    return base + url_for("signin.account_link", token="TOKEN").replace("TOKEN", "{token}")


# --- School account (OpenID Connect) -------------------------------------------------------

def _enabled_provider(provider_id: int) -> SignInProvider:
    provider = db.session.get(SignInProvider, provider_id)
    if provider is None or not provider.enabled:
        abort(404)
    return provider


def _refused(message: str, status: int = 403) -> Any:
    return render_template("signin/refused.html", message=message), status


@bp.route("/login/school")
def school_login() -> Any:
    return render_template("signin/school.html", providers=oidc.enabled_providers(db.session))


@bp.route("/login/school/<int:provider_id>")
def oidc_start(provider_id: int) -> Any:
    provider = _enabled_provider(provider_id)
    try:
        callback = link_context_from(current_app.config).base_url + url_for(
            "signin.oidc_callback", provider_id=provider.id)
        client = client_for(provider)
        return client.authorize_redirect(callback)
    except (requests.RequestException, ValueError, DomainError):
        current_app.logger.exception("school sign-in: provider %s unreachable", provider.id)
        return _refused(_("The sign-in service of your school cannot be reached. Try again later or "
                          "log in with your password."), 502)


def _protocol_refusal(err: Exception) -> tuple[str, str]:
    """(audit reason, message) for an error of the OpenID Connect exchange."""
    if isinstance(err, MismatchingStateError) or (isinstance(err, OAuthError) and not request.args.get("error")
                                                   and "state" in str(err).lower()):
        return "state", _("This sign-in attempt was already used or has expired. Start again from the "
                          "login page.")
    if isinstance(err, ExpiredTokenError):
        return "expired", _("The answer of your school's sign-in service has expired. Start again "
                            "from the login page.")
    if isinstance(err, ClaimError) and err.claim in ("aud", "azp"):
        return "audience", _("The answer of your school's sign-in service was meant for another "
                             "application, so it was refused.")
    if isinstance(err, OAuthError) and request.args.get("error"):
        return "provider_error", _("Your school's sign-in service did not let you in. Try again, or "
                                   "ask your administrator.")
    return "invalid", _("Signing in with your school account did not work. Try again, or ask your "
                        "administrator.")


@bp.route("/login/school/<int:provider_id>/callback")
def oidc_callback(provider_id: int) -> Any:
    provider = _enabled_provider(provider_id)
    remote = request.remote_addr or "-"
    try:
        client = client_for(provider)
        token = client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise OAuthError(description="no ID token")
        if oidc.needs_userinfo(provider, claims):
            claims = oidc.merge_userinfo(claims, dict(client.userinfo(token=token)))
    except oidc.SignInRefused as err:
        db.session.rollback()
        oidc.record_failure(db.session, provider=provider, reason=err.reason, remote_addr=remote, now=utcnow())
        db.session.commit()
        return _refused(_("Signing in with your school account did not work. Try again, or ask your "
                          "administrator."))
    except (OAuthError, JoseError, requests.RequestException, ValueError, KeyError, DomainError) as err:
        db.session.rollback()
        reason, message = _protocol_refusal(err)
        oidc.record_failure(db.session, provider=provider, reason=reason, remote_addr=remote,
                            now=utcnow())
        db.session.commit()
        return _refused(message, 400 if reason in ("state", "expired", "audience") else 403)
    try:
        user = oidc.sign_in(db.session, provider=provider, claims=claims, remote_addr=remote,
                            now=utcnow())
    except oidc.SignInRefused as err:
        db.session.commit()  # the refusal is audited
        if err.reason == oidc.NOT_THIS_ORGANISATION:
            return _refused(_("This account does not belong to %(school)s. Sign in with the account "
                              "your school gave you.", school=provider.school.name))
        return _refused(_("Your school account is not known in consentflow. Ask your administrator "
                          "(%(school)s) to give you access; no account is made by signing in.",
                          school=provider.school.name))
    # The school's provider vouches for the account; its own multi-factor rules apply there.
    return complete_login(user, url_for("home.index"), school_id=provider.school_id)


# --- Second factor during login -----------------------------------------------------------------

@bp.route("/login/second-factor", methods=["GET", "POST"])
def second_factor() -> Any:
    user = pending_user()
    if user is None:
        flash(_("Log in again, please."), "info")
        return redirect(url_for("auth.login"))
    if not tfa.is_enrolled(user):
        return redirect(url_for("signin.enrol"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            method = tfa.verify_second_factor(
                db.session, user=user, code=form.code.data or "", box=_totp_box(),
                remote_addr=request.remote_addr or "-", now=utcnow(), policy=login_policy())
        except LoginThrottled as err:
            db.session.rollback()
            minutes = max(1, math.ceil(err.retry_after.total_seconds() / 60))
            flash(_("Too many failed attempts. Try again in %(minutes)d minute(s).", minutes=minutes), "error")
            return render_template("signin/second_factor.html", form=form), 429
        except tfa.SecondFactorFailed:
            db.session.commit()  # the failure feeds the throttle and the audit trail
            flash(_("That code is not right."), "error")
            return render_template("signin/second_factor.html", form=form), 401
        left = tfa.recovery_codes_left(db.session, user)
        response = complete_login(user, pending_next())
        if method == "recovery":
            flash(_("You used a recovery code; %(count)d left. Make new ones under Second factor.",
                    count=left), "info")
        return response
    return render_template("signin/second_factor.html", form=form)


def _enrolling_user() -> tuple[User | None, bool]:
    """(user, during_login): the user between password and code, or the signed-in user."""
    user = pending_user()
    if user is not None:
        return user, True
    if current_user.is_authenticated:
        return current_user, False  # type: ignore[return-value]
    return None, False


@bp.route("/login/second-factor/setup", methods=["GET", "POST"])
def enrol() -> Any:
    user, during_login = _enrolling_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if tfa.is_enrolled(user):
        return redirect(url_for("signin.second_factor" if during_login else "signin.account_second_factor"))
    proved_user_id, proved_at = mailbox_proof()
    if during_login and not tfa.first_enrolment_allowed(user, proved_user_id=proved_user_id,
                                                        proved_at=proved_at, now=utcnow()):
        return _enrol_by_mail(user)
    box = _totp_box()
    secret = tfa.pending_secret(user, box)
    if secret is None:
        secret = tfa.begin_enrolment(user, box)
        db.session.commit()
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = tfa.confirm_enrolment(db.session, actor=Actor(user.id, user.email), user=user,
                                          code=form.code.data or "", box=box, now=utcnow())
        except DomainError as err:
            db.session.rollback()
            form.code.errors = [user_message(err)]
        else:
            db.session.commit()
            if during_login:
                complete_login(user, pending_next())
            return render_template("signin/recovery_codes.html", codes=codes,
                                   next_url=url_for("home.index"))
    uri = tfa.provisioning_uri(user, secret)
    return render_template("signin/enrol.html", form=form, secret=secret,
                           qr=Markup(tfa.qr_svg(uri)), required=tfa.requires_second_factor(
                               user, current_app.config["SECOND_FACTOR_ROLES"]))


def _link_minutes() -> timedelta:
    return timedelta(minutes=current_app.config["PASSWORD_RESET_MINUTES"])


def _enrol_by_mail(user: User, *, mail_possible: bool = True) -> Any:
    """A password alone does not set up a first second factor: the set-up starts from a mailed link."""
    sent = sent_recently(db.session, user=user, purpose=ENROL_PURPOSE, now=utcnow())
    return render_template("signin/enrol_by_mail.html", email=user.email, sent=sent,
                           mail_possible=mail_possible, form=SendEnrolLinkForm())


@bp.route("/login/second-factor/setup/mail", methods=["POST"])
def send_enrol_link() -> Any:
    """Mail the set-up link (at most one every few minutes); a POST, so no prefetch or reload sends one."""
    user = pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if tfa.is_enrolled(user) or not SendEnrolLinkForm().validate_on_submit():
        return redirect(url_for("signin.enrol"))
    now = utcnow()
    if not sent_recently(db.session, user=user, purpose=ENROL_PURPOSE, now=now):
        try:
            send_link(db.session, actor=Actor(user.id, user.email), user=user, purpose=ENROL_PURPOSE,
                      secret_key=current_app.config["SECRET_KEY"], valid_for=_link_minutes(),
                      link_url=link_url(), now=now)
        except DomainError:
            db.session.rollback()  # no school to send mail from: the page says whom to ask
            return _enrol_by_mail(user, mail_possible=False)
        db.session.commit()
        deliver_outbox()
    return redirect(url_for("signin.enrol"))


@bp.route("/account/second-factor")
@require_role(*ANY_ROLE)
def account_second_factor() -> Any:
    user = current_user
    return render_template(
        "signin/account.html", enrolled=tfa.is_enrolled(user),
        required=tfa.requires_second_factor(user, current_app.config["SECOND_FACTOR_ROLES"]),
        codes_left=tfa.recovery_codes_left(db.session, user))


@bp.route("/account/second-factor/recovery-codes", methods=["POST"])
@require_role(*ANY_ROLE)
def new_recovery_codes() -> Any:
    if not tfa.is_enrolled(current_user):
        abort(404)
    codes = tfa.new_recovery_codes(db.session, actor=current_actor(), user=current_user, now=utcnow())
    db.session.commit()
    return render_template("signin/recovery_codes.html", codes=codes,
                           next_url=url_for("signin.account_second_factor"))


@bp.route("/account/second-factor/off", methods=["POST"])
@require_role(*ANY_ROLE)
def second_factor_off() -> Any:
    try:
        tfa.disable(db.session, actor=current_actor(), user=current_user,
                    required_roles=current_app.config["SECOND_FACTOR_ROLES"], now=utcnow())
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
        return redirect(url_for("signin.account_second_factor"))
    db.session.commit()
    flash(_("The second factor is switched off."), "info")
    return redirect(url_for("signin.account_second_factor"))


# --- Forgotten password and invitation links ----------------------------------------------

def _link_gone() -> Any:
    return _refused(_("This link is not valid any more: it was used, replaced by a newer one or "
                      "has expired. Ask for a new one."), 410)


@bp.route("/login/forgot", methods=["GET", "POST"])
def forgot() -> Any:
    form = ForgotForm()
    if form.validate_on_submit():
        now = utcnow()
        user = reset_candidate(db.session, email=form.email.data or "", now=now)
        if user is not None:
            try:
                send_link(db.session, actor=Actor.system("password reset"), user=user, purpose="reset",
                          secret_key=current_app.config["SECRET_KEY"],
                          valid_for=_link_minutes(), link_url=link_url(), now=now)
            except DomainError:
                db.session.rollback()  # an account without a school: same answer, nothing sent
            else:
                db.session.commit()
                deliver_outbox()
        # The same answer whether or not the address has an account.
        flash(_("If this address belongs to an account, a link to set a new password is on its way. "
                "It works once, for a limited time."), "info")
        return redirect(url_for("auth.login"))
    return render_template("signin/forgot.html", form=form)


@bp.route("/account/link/<token>", methods=["GET", "POST"])
def account_link(token: str) -> Any:
    try:
        link = check_link(db.session, token=token, secret_key=current_app.config["SECRET_KEY"], now=utcnow())
    except LinkInvalid:
        return _link_gone()
    user = db.session.get(User, link.user_id)
    if link.purpose == ENROL_PURPOSE:
        return _enrol_link(token, user)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            user = use_link_for_password(db.session, token=token, secret_key=current_app.config["SECRET_KEY"],
                                         password=form.password.data or "", now=utcnow())
        except DomainError as err:
            db.session.rollback()
            form.password.errors = [user_message(err)]
        else:
            db.session.commit()
            session.pop(PENDING_KEY, None)
            remember_mailbox_proof(user)  # an invited admin sets up the second factor at the next sign-in
            flash(_("Your password is saved. Log in with it now."), "success")
            return redirect(url_for("auth.login"))
    providers = [p for p in oidc.enabled_providers(db.session)
                 if any(m.school_id == p.school_id for m in user.memberships)] if user else []
    return render_template("signin/link.html", form=form, token=token, purpose=link.purpose,
                           user=user, providers=providers)


def _enrol_link(token: str, user: User | None) -> Any:
    """A set-up link: opened with a button (mail scanners that follow links do not use it up)."""
    form = EnrolLinkForm()
    if form.validate_on_submit():
        try:
            user = use_link_for_enrolment(db.session, token=token, secret_key=current_app.config["SECRET_KEY"],
                                          now=utcnow())
        except LinkInvalid:
            db.session.rollback()
            return _link_gone()
        db.session.commit()
        remember_mailbox_proof(user)
        pending = pending_user()
        if pending is not None and pending.id == user.id:
            return redirect(url_for("signin.enrol"))
        flash(_("Log in with your password; then you set up your second factor."), "info")
        return redirect(url_for("auth.login"))
    return render_template("signin/enrol_link.html", form=form, user=user)


@bp.route("/account/link/<token>/school/<int:provider_id>", methods=["POST"])
def account_link_school(token: str, provider_id: int) -> Any:
    provider = _enabled_provider(provider_id)
    try:
        use_link_for_school_account(db.session, token=token, secret_key=current_app.config["SECRET_KEY"],
                                    now=utcnow())
    except LinkInvalid:
        return _link_gone()
    db.session.commit()
    return redirect(url_for("signin.oidc_start", provider_id=provider.id))
