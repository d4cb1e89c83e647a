"""The school's sign-in provider: set by its administrators only, secret sealed, deny by default."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from consentflow.auth.oidc import (
    NO_EMAIL,
    NOT_THIS_ORGANISATION,
    ProviderSettings,
    SignInRefused,
    check_settings,
    identity_email,
)
from consentflow.errors import InvalidInput
from consentflow.models import AuditEvent, SignInProvider
from tests import factories

FORM = {"name": "Microsoft", "issuer": "https://login.microsoftonline.com/1234-tenant/v2.0",
        "client_id": "abc", "client_secret": "s3cret-value-xyz", "scopes": "openid email profile",
        "email_claim": "email", "allowed_domains": "", "org_claim": "tid", "org_values": "1234-tenant",
        "enabled": "y"}


def _post(client: Any, auth: Any, **changes: str) -> Any:
    return client.post("/admin/signin/", data={**FORM, **changes, "csrf_token": auth.csrf("/admin/signin/")},
                       follow_redirects=True)


def test_admin_saves_the_provider_with_a_sealed_secret(client, auth, db_session) -> None:
    school = factories.school(db_session)
    auth.as_role(db_session, "admin", school=school)
    response = _post(client, auth)
    assert "Sign-in with the school account is saved." in response.get_data(as_text=True)
    row = db_session.scalar(select(SignInProvider).where(SignInProvider.school_id == school.id))
    assert row.org_claim == "tid" and "s3cret-value-xyz" not in row.client_secret_sealed
    page = client.get("/admin/signin/").get_data(as_text=True)
    assert "s3cret-value-xyz" not in page and f"/login/school/{row.id}/callback" in page
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "signin.provider_saved"))
    # The login page offers it.
    client.post("/logout", data={"csrf_token": auth.csrf()})
    assert "Log in with Microsoft" in client.get("/login").get_data(as_text=True)


def test_a_provider_without_a_domain_or_organisation_rule_is_refused(client, auth, db_session) -> None:
    school = factories.school(db_session)
    auth.as_role(db_session, "admin", school=school)
    response = _post(client, auth, org_claim="", org_values="")
    assert "only your school&#39;s accounts get in" in response.get_data(as_text=True)
    assert db_session.scalar(select(SignInProvider)) is None
    assert "https://" in _post(client, auth, issuer="http://idp.example.org").get_data(as_text=True)


@pytest.mark.parametrize("role", ["teacher", "pr", "privacy"])
def test_other_roles_cannot_open_the_provider_screen(client, auth, db_session, role) -> None:
    auth.as_role(db_session, role)
    assert client.get("/admin/signin/").status_code == 403


def _provider(**kwargs: Any) -> SignInProvider:
    values = {"email_claim": "email", "allowed_domains": "", "org_claim": "", "org_values": ""} | kwargs
    return SignInProvider(**values)


def test_identity_rules() -> None:
    by_domain = _provider(allowed_domains="delinde.nl, bestuur.nl")
    assert identity_email(by_domain, {"email": "Juf@DeLinde.nl"}) == "juf@delinde.nl"
    for claims, reason in [({"email": "x@other.nl"}, NOT_THIS_ORGANISATION),
                           ({"email": "x@delinde.nl", "email_verified": False}, NO_EMAIL),
                           ({"sub": "1"}, NO_EMAIL)]:
        with pytest.raises(SignInRefused) as err:
            identity_email(by_domain, claims)
        assert err.value.reason == reason
    by_tenant = _provider(org_claim="tid", org_values="1234-tenant", email_claim="preferred_username")
    assert identity_email(by_tenant, {"preferred_username": "a@b.nl", "tid": "1234-TENANT"}) == "a@b.nl"
    with pytest.raises(SignInRefused):
        identity_email(by_tenant, {"preferred_username": "a@b.nl", "tid": "9999"})


def test_settings_need_a_rule_and_https() -> None:
    good = ProviderSettings(name="Google", issuer="https://accounts.google.com", client_id="x",
                            client_secret="y", org_claim="hd", org_values="delinde.nl")
    check_settings(good, allow_http=False)
    for bad in [ProviderSettings(name="G", issuer="https://accounts.google.com", client_id="x", client_secret="y"),
                ProviderSettings(name="G", issuer="http://accounts.google.com", client_id="x", client_secret="y",
                                 allowed_domains="a.nl"),
                ProviderSettings(name="G", issuer="https://accounts.google.com", client_id="x", client_secret="y",
                                 allowed_domains="a.nl", scopes="email")]:
        with pytest.raises(InvalidInput):
            check_settings(bad, allow_http=False)


def test_userinfo_completes_the_id_token_only_for_the_same_subject() -> None:
    from consentflow.auth.oidc import SUBJECT_MISMATCH, merge_userinfo, needs_userinfo

    entree = _provider(org_claim="nlEduPersonHomeOrganizationId", org_values="11ZZ03")
    assert needs_userinfo(entree, {"sub": "a", "email": "x@y.nl"})
    merged = merge_userinfo({"sub": "a"}, {"sub": "a", "email": "x@y.nl", "nlEduPersonHomeOrganizationId": "11ZZ03"})
    assert identity_email(entree, merged) == "x@y.nl"
    with pytest.raises(SignInRefused) as err:
        merge_userinfo({"sub": "a"}, {"sub": "b", "email": "x@y.nl"})
    assert err.value.reason == SUBJECT_MISMATCH
