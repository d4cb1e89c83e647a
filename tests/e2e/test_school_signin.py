"""Browser sign-in through a real OpenID Connect provider (node-oidc-provider on loopback),
and a password sign-in with the TOTP second factor.

The provider (tests/oidc/provider.js) has a correct client and two whose ID
tokens come back for another audience or already expired; its accounts
belong to the organisation of their e-mail domain.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from tests import factories
from tests.e2e.conftest import LiveServer, login
from tests.oidc_server import CLIENT_SECRET, OidcProvider

PROVIDER_NAME = "Entree test"


@pytest.fixture(scope="module")
def school_signin(live_server: LiveServer) -> Iterator[dict[str, Any]]:
    """School A with a teacher juf@school-a.test, its provider row, and the running provider."""
    from consentflow.audit.service import Actor
    from consentflow.auth.oidc import BOX_PURPOSE, ProviderSettings, save_provider
    from consentflow.auth.secret_box import SecretBox
    from consentflow.extensions import db
    from consentflow.models import utcnow

    app = live_server.app
    with app.app_context():
        school = factories.school(db.session, name="Basisschool De Linde")
        factories.user(db.session, school=school, roles=("teacher",), email="juf@school-a.test")
        # Known here with a role, but the account belongs to another organisation: the
        # school's rule, not the missing user, must refuse it.
        factories.user(db.session, school=school, roles=("teacher",), email="meester@school-b.test")
        # Placeholder issuer: the real one is known once the provider runs (it needs our callback).
        row = save_provider(db.session, actor=Actor.system("test"), school_id=school.id,
                            settings=ProviderSettings(name=PROVIDER_NAME, issuer="http://127.0.0.1:1",
                                                      client_id="consentflow", client_secret=CLIENT_SECRET,
                                                      allowed_domains="school-a.test",
                                                      scopes="openid email profile org"),
                            box=SecretBox(app.config["SECRET_KEY"], BOX_PURPOSE), now=utcnow(),
                            allow_http=True)
        db.session.commit()
        provider_id, school_id = row.id, school.id
    provider = OidcProvider([f"{live_server.url}/login/school/{provider_id}/callback"]).start()
    with app.app_context():
        row = db.session.get(type(row), provider_id)
        row.issuer = provider.issuer
        db.session.commit()
    try:
        yield {"provider_id": provider_id, "school_id": school_id, "provider": provider}
    finally:
        provider.stop()


def _use_client(live_server: LiveServer, provider_id: int, client_id: str) -> None:
    from consentflow.extensions import db
    from consentflow.models import SignInProvider

    with live_server.app.app_context():
        db.session.get(SignInProvider, provider_id).client_id = client_id
        db.session.commit()


def _sign_in_at_provider(page: Any, login_name: str) -> list[str]:
    """From our login page through the provider's own login and consent pages; returns callback URLs seen."""
    callbacks: list[str] = []
    page.on("request", lambda req: callbacks.append(req.url) if "/callback?" in req.url else None)
    # The provider's development pages load a web font; nothing leaves loopback.
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1).*"), lambda route: route.abort())
    page.goto("/login")
    page.get_by_role("link", name=f"Inloggen met {PROVIDER_NAME}").click()
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login_name)
    page.fill("input[name=password]", "anything")
    page.click("button[type=submit]")
    page.wait_for_selector("button:has-text('Continue')")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"^(?!.*/interaction/).*$"))
    page.wait_for_selector("main, h1")
    return callbacks


def _audit_actions(live_server: LiveServer) -> list[tuple[str, dict[str, Any]]]:
    from consentflow.extensions import db
    from consentflow.models import AuditEvent

    with live_server.app.app_context():
        return [(e.action, e.details) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_school_account_signs_in_and_a_replayed_state_is_refused(
        browser_page: Any, live_server: LiveServer, school_signin: dict[str, Any]) -> None:
    page = browser_page
    _use_client(live_server, school_signin["provider_id"], "consentflow")
    callbacks = _sign_in_at_provider(page, "juf@school-a.test")
    assert page.url.rstrip("/") == live_server.url, page.content()
    assert page.locator("a.user").first.is_visible()  # signed in: the name links to "my sessions"
    signed_in = ("auth.login", {"method": "oidc", "provider_id": school_signin["provider_id"]})
    assert signed_in in _audit_actions(live_server)

    # The same answer again (state, code): refused, never a second session.
    assert callbacks, "the provider did not redirect to our callback"
    response = page.goto(callbacks[0])
    assert response.status == 400
    assert "Deze inlogpoging is al gebruikt of verlopen" in page.inner_text("main")

    # Logout ends the local session.
    page.goto("/")
    page.click("text=Uitloggen")
    page.wait_for_url(re.compile(r".*/login.*"))
    page.goto("/account/sessions")
    assert "/login" in page.url


def test_unknown_school_account_is_told_to_ask_the_administrator(
        browser_page: Any, live_server: LiveServer, school_signin: dict[str, Any]) -> None:
    _use_client(live_server, school_signin["provider_id"], "consentflow")
    _sign_in_at_provider(browser_page, "nieuw@school-a.test")
    text = browser_page.inner_text("main")
    assert "Je schoolaccount is niet bekend in consentflow. Vraag je beheerder" in text
    from consentflow.extensions import db
    from consentflow.models import User

    with live_server.app.app_context():
        assert db.session.scalar(select(User).where(User.email == "nieuw@school-a.test")) is None


def test_account_of_another_organisation_is_refused(
        browser_page: Any, live_server: LiveServer, school_signin: dict[str, Any]) -> None:
    _use_client(live_server, school_signin["provider_id"], "consentflow")
    _sign_in_at_provider(browser_page, "meester@school-b.test")
    assert "Dit account hoort niet bij Basisschool De Linde" in browser_page.inner_text("main")
    assert ("auth.login_failed", {"method": "oidc", "provider_id": school_signin["provider_id"],
                                  "reason": "organisation"}) in _audit_actions(live_server)


def test_id_token_for_another_audience_is_refused(
        browser_page: Any, live_server: LiveServer, school_signin: dict[str, Any]) -> None:
    _use_client(live_server, school_signin["provider_id"], "cf-wrong-audience")
    _sign_in_at_provider(browser_page, "juf@school-a.test")
    assert "was bedoeld voor een andere toepassing" in browser_page.inner_text("main")
    browser_page.goto("/account/sessions")
    assert "/login" in browser_page.url


def test_expired_id_token_is_refused(
        browser_page: Any, live_server: LiveServer, school_signin: dict[str, Any]) -> None:
    _use_client(live_server, school_signin["provider_id"], "cf-expired")
    _sign_in_at_provider(browser_page, "juf@school-a.test")
    assert "is verlopen" in browser_page.inner_text("main")
    browser_page.goto("/account/sessions")
    assert "/login" in browser_page.url


def test_password_sign_in_of_an_admin_needs_totp_enrolment_then_a_code(
        browser_page: Any, live_server: LiveServer) -> None:
    from consentflow.extensions import db
    from consentflow.models import OutboxMessage

    app = live_server.app
    app.config["SECOND_FACTOR_ROLES"] = ["admin", "pr"]  # the production default
    try:
        with app.app_context():
            school = factories.school(db.session)
            admin = factories.user(db.session, school=school, roles=("admin",))
            db.session.commit()
            email = admin.email
        page = browser_page
        login(page, email)
        # The password alone does not set up a second factor: the link comes by mail.
        assert "/login/second-factor/setup" in page.url
        assert "Kijk in je mail" in page.inner_text("main")
        assert page.locator(".qr svg").count() == 0
        with page.expect_navigation():
            page.click("text=Stuur me een link")
        assert "We hebben een link gestuurd" in page.inner_text("main")
        with app.app_context():
            mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == email)).one()
            link = re.search(r"http://\S+?(/account/link/\S+)", mail.body).group(1)
        page.goto(link)
        with page.expect_navigation():
            page.click("text=Verder met instellen")
        assert "/login/second-factor/setup" in page.url
        assert page.locator(".qr svg").count() == 1
        secret = page.inner_text("code.totp-secret").strip()
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        with page.expect_navigation():  # read the recovery-code page, not the set-up page
            page.click("form [type=submit]")
        codes = [c.strip() for c in page.locator(".recovery-codes code").all_inner_texts()]
        assert len(codes) == 10
        page.click("text=Ik heb ze bewaard")
        page.wait_for_url(live_server.url + "/")
        page.click("text=Uitloggen")
        page.wait_for_url(re.compile(r".*/login.*"))

        # Next time: password, then a code; a wrong one is refused, a recovery code works once.
        login(page, email)
        assert "/login/second-factor" in page.url
        page.fill("input[name=code]", "000000")
        with page.expect_navigation():
            page.click("form [type=submit]")
        assert "Die code klopt niet." in page.inner_text("main")
        page.fill("input[name=code]", codes[0])
        with page.expect_navigation():
            page.click("form [type=submit]")
        assert page.url.rstrip("/") == live_server.url
        assert "Je hebt een herstelcode gebruikt; er zijn er nog 9" in page.inner_text("body")
    finally:
        app.config["SECOND_FACTOR_ROLES"] = []
