"""Sign-in with a school's OpenID Connect provider: configuration and who may get in (no Flask).

The protocol (state, nonce, PKCE, the ID token's signature against the keys
of the discovery document, issuer, audience, expiry) is Authlib's job, see
consentflow.signin.oidc_client. This module decides what a verified ID token
is worth: the e-mail claim must satisfy the school's domain and/or
organisation rule, and it must belong to an existing, active consentflow user
with a role in that school. Nobody gets an account by signing in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.auth.access import roles_of
from consentflow.auth.secret_box import SecretBox
from consentflow.auth.service import normalise_email
from consentflow.errors import Forbidden, InvalidInput
from consentflow.models import SignInProvider, User

BOX_PURPOSE = "oidc-client-secret"

# Why a verified identity was refused; the view shows a message per reason.
NOT_THIS_ORGANISATION = "organisation"
NO_EMAIL = "no_email"
UNKNOWN_USER = "unknown_user"
SUBJECT_MISMATCH = "subject_mismatch"


class SignInRefused(Forbidden):
    """The school account was refused."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


@dataclass(frozen=True)
class ProviderSettings:
    """What an administrator fills in for the school's provider."""

    name: str
    issuer: str
    client_id: str
    client_secret: str | None  # None: keep the stored secret
    email_claim: str = "email"
    allowed_domains: str = ""
    org_claim: str = ""
    org_values: str = ""
    scopes: str = "openid email profile"
    enabled: bool = True


def _split(values: str) -> list[str]:
    return [v.strip().lower() for v in values.replace(";", ",").split(",") if v.strip()]


def check_settings(settings: ProviderSettings, *, allow_http: bool) -> None:
    """Refuse a configuration that would let other organisations' accounts in, or is malformed."""
    parts = urlsplit(settings.issuer.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or (parts.scheme == "http" and not allow_http):
        raise InvalidInput("The issuer must be an https:// address.")
    if not settings.client_id.strip():
        raise InvalidInput("Fill in the client id the provider gave you.")
    if not settings.name.strip():
        raise InvalidInput("Give the sign-in option a name people recognise.")
    if not _split(settings.allowed_domains) and not (settings.org_claim.strip() and _split(settings.org_values)):
        # Deny by default: without a rule, any account of a multi-tenant provider would pass.
        raise InvalidInput("Set the allowed e-mail domains or an organisation claim with its values, "
                           "so that only your school's accounts get in.")
    if bool(settings.org_claim.strip()) != bool(_split(settings.org_values)):
        raise InvalidInput("An organisation rule needs both the claim and its values.")
    if "openid" not in settings.scopes.split():
        raise InvalidInput("The scopes must include openid.")


def save_provider(session: Session, *, actor: Actor, school_id: int, settings: ProviderSettings,
                  box: SecretBox, now: datetime, allow_http: bool = False) -> SignInProvider:
    """Create or change the school's provider; the secret is stored sealed."""
    check_settings(settings, allow_http=allow_http)
    row = session.scalar(select(SignInProvider).where(SignInProvider.school_id == school_id))
    if row is None:
        if not settings.client_secret:
            raise InvalidInput("Fill in the client secret the provider gave you.")
        row = SignInProvider(school_id=school_id, created_at=now)
        session.add(row)
    row.name = settings.name.strip()
    row.issuer = settings.issuer.strip().rstrip("/")
    row.client_id = settings.client_id.strip()
    if settings.client_secret:
        row.client_secret_sealed = box.seal(settings.client_secret)
    row.email_claim = settings.email_claim.strip() or "email"
    row.allowed_domains = ", ".join(_split(settings.allowed_domains))
    row.org_claim = settings.org_claim.strip()
    row.org_values = ", ".join(v.strip() for v in settings.org_values.split(",") if v.strip())
    row.scopes = " ".join(settings.scopes.split())
    row.enabled = settings.enabled
    row.updated_at = now
    session.flush()
    record_event(session, actor=actor, action="signin.provider_saved", object_type="signin_provider",
                 object_id=row.id, school_id=school_id,
                 details={"issuer": row.issuer, "client_id": row.client_id, "enabled": row.enabled,
                          "allowed_domains": row.allowed_domains, "org_claim": row.org_claim,
                          "secret_changed": bool(settings.client_secret)}, now=now)
    return row


def enabled_providers(session: Session) -> list[SignInProvider]:
    return list(session.scalars(select(SignInProvider).where(SignInProvider.enabled.is_(True))
                                .order_by(SignInProvider.name)))


def _claim_values(claims: dict[str, Any], name: str) -> list[str]:
    value = claims.get(name)
    if isinstance(value, list):
        return [str(v).strip().lower() for v in value]
    return [str(value).strip().lower()] if value not in (None, "") else []


def needs_userinfo(provider: SignInProvider, claims: dict[str, Any]) -> bool:
    """Some providers (Entree Federatie) put the claims at the userinfo endpoint, not in the ID token."""
    wanted = [provider.email_claim] + ([provider.org_claim] if provider.org_claim else [])
    return any(name not in claims for name in wanted)


def merge_userinfo(id_claims: dict[str, Any], userinfo: dict[str, Any]) -> dict[str, Any]:
    """Claims of the ID token completed from userinfo, which must be about the same subject."""
    if str(userinfo.get("sub", "")) != str(id_claims.get("sub", "")):
        raise SignInRefused(SUBJECT_MISMATCH)
    return {**userinfo, **id_claims}  # the signed ID token wins where both speak


def identity_email(provider: SignInProvider, claims: dict[str, Any]) -> str:
    """The e-mail address the verified claims carry, if the school's rules let this account in."""
    emails = _claim_values(claims, provider.email_claim)
    email = normalise_email(emails[0]) if emails else ""
    if "@" not in email or claims.get("email_verified") is False:
        raise SignInRefused(NO_EMAIL)
    domains = _split(provider.allowed_domains)
    if domains and email.rpartition("@")[2] not in domains:
        raise SignInRefused(NOT_THIS_ORGANISATION)
    if provider.org_claim:
        wanted = {v.lower() for v in _split(provider.org_values)}
        if not wanted & set(_claim_values(claims, provider.org_claim)):
            raise SignInRefused(NOT_THIS_ORGANISATION)
    return email


def sign_in(session: Session, *, provider: SignInProvider, claims: dict[str, Any], remote_addr: str,
            now: datetime) -> User:
    """Map a verified identity onto an existing user with a role in the provider's school; audited."""
    email = ""
    try:
        email = identity_email(provider, claims)
        user = session.scalar(select(User).where(User.email == email))
        if user is None or not user.active or not roles_of(user, provider.school):
            raise SignInRefused(UNKNOWN_USER)
    except SignInRefused as err:
        record_failure(session, provider=provider, reason=err.reason, remote_addr=remote_addr,
                       now=now, email=email or None, subject=str(claims.get("sub", "")))
        raise
    user.last_login_at = now
    record_event(session, actor=Actor(user.id, user.email), action="auth.login", object_type="user",
                 object_id=user.id, school_id=provider.school_id,
                 details={"method": "oidc", "provider_id": provider.id},
                 personal={"remote_addr": remote_addr}, now=now)
    return user


def record_failure(session: Session, *, provider: SignInProvider, reason: str, remote_addr: str,
                   now: datetime, email: str | None = None, subject: str = "") -> None:
    """Audit a refused school-account sign-in (protocol errors included)."""
    personal: dict[str, Any] = {"remote_addr": remote_addr}
    if email:
        personal["email"] = email
    if subject:
        personal["subject"] = subject
    record_event(session, actor=Actor.system("login"), action="auth.login_failed", object_type="user",
                 school_id=provider.school_id,
                 details={"method": "oidc", "provider_id": provider.id, "reason": reason},
                 personal=personal, now=now)
