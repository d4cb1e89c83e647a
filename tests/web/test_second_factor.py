"""TOTP second factor: required for admin and PR (the production default), throttled like the password."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.auth.links import issue_link
from consentflow.models import AccountLink, AuditEvent, OutboxMessage, RecoveryCode, User, utcnow
from tests import factories

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SECRET_RE = re.compile(r'<code class="totp-secret">([A-Z2-7]+)</code>')
LINK_RE = re.compile(r"http://\S+(/account/link/\S+)")


def _csrf(client: Any, path: str) -> str:
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


def _staff(app: Any, db_session: Any, *roles: str) -> list[User]:
    """One user per role, in one school, under the production rule (admin and PR need a second factor)."""
    app.config["SECOND_FACTOR_ROLES"] = ["admin", "pr"]
    school = factories.school(db_session)
    users = [factories.user(db_session, school=school, roles=(role,)) for role in roles]
    db_session.commit()
    return users


def _set_up_link(db_session: Any, email: str) -> str:
    """The path of the newest set-up link mailed to ``email`` (from the outbox)."""
    db_session.expire_all()
    mail = db_session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == email)
                              .order_by(OutboxMessage.id.desc())).first()
    assert mail is not None, "no mail"
    return LINK_RE.search(mail.body).group(1)


def _open_link(client: Any, path: str) -> Any:
    return client.post(path, data={"csrf_token": _csrf(client, path)})


def _ask_for_link(client: Any) -> str:
    """Press "Send me a link" on the set-up page; the page shown afterwards."""
    page = client.get("/login/second-factor/setup").get_data(as_text=True)
    assert "Check your mail" in page and "totp-secret" not in page
    sent = client.post("/login/second-factor/setup/mail", data={"csrf_token": CSRF_RE.search(page).group(1)})
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/login/second-factor/setup")
    return client.get("/login/second-factor/setup").get_data(as_text=True)


def _enrol(client: Any, db_session: Any = None, email: str | None = None) -> tuple[str, list[str]]:
    """Set up a second factor; in the middle of a sign-in, through the link mailed to ``email`` first."""
    if email is not None:
        _ask_for_link(client)
        assert _open_link(client, _set_up_link(db_session, email)).headers["Location"].endswith(
            "/login/second-factor/setup")
    page = client.get("/login/second-factor/setup").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1)
    assert "<svg" in page  # the QR code, drawn on the server
    done = client.post("/login/second-factor/setup", data={
        "code": pyotp.TOTP(secret).now(), "csrf_token": CSRF_RE.search(page).group(1)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.get_data(as_text=True))
    return secret, codes


def test_admin_with_a_password_alone_gets_no_session(app, client, auth, db_session) -> None:
    [admin] = _staff(app, db_session, "admin")
    response = auth.login(admin.email)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/second-factor/setup")
    # Not signed in yet: pages need a login.
    assert client.get("/account/sessions").status_code == 302
    assert client.get("/admin/user/").status_code in (302, 403)


def test_enrolment_then_codes_work_once_and_recovery_codes_are_hashed(app, client, auth, db_session) -> None:
    [pr] = _staff(app, db_session, "pr")
    auth.login(pr.email)
    secret, codes = _enrol(client, db_session, pr.email)
    assert len(codes) == 10
    assert client.get("/account/sessions").status_code == 200  # signed in after enrolment
    stored = [r.code_hash for r in db_session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == pr.id))]
    assert len(stored) == 10 and not set(codes) & set(stored)
    db_session.expire_all()
    assert secret not in (db_session.get(User, pr.id).totp_secret_sealed or "")  # sealed at rest

    client.post("/logout", data={"csrf_token": auth.csrf()})
    assert auth.login(pr.email).headers["Location"].endswith("/login/second-factor")
    # The code used for enrolment does not work a second time.
    again = client.post("/login/second-factor", data={"code": pyotp.TOTP(secret).now(),
                                                       "csrf_token": _csrf(client, "/login/second-factor")})
    assert again.status_code == 401
    ok = client.post("/login/second-factor", data={"code": codes[3].upper(),
                                                    "csrf_token": _csrf(client, "/login/second-factor")})
    assert ok.status_code == 302
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(pr.email)
    reused = client.post("/login/second-factor", data={"code": codes[3],
                                                        "csrf_token": _csrf(client, "/login/second-factor")})
    assert reused.status_code == 401
    db_session.expire_all()
    actions = [e.action for e in db_session.scalars(select(AuditEvent).where(AuditEvent.object_id == str(pr.id)))]
    for action in ("auth.second_factor_on", "auth.recovery_codes_new", "auth.second_factor_ok",
                   "auth.second_factor_failed"):
        assert action in actions


def test_wrong_codes_are_throttled_like_the_password(app, client, auth, db_session) -> None:
    [admin] = _staff(app, db_session, "admin")
    auth.login(admin.email)
    secret, _codes = _enrol(client, db_session, admin.email)
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(admin.email)
    statuses = []
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1):
        statuses.append(client.post("/login/second-factor", data={
            "code": "000000", "csrf_token": _csrf(client, "/login/second-factor")}).status_code)
    assert statuses[:-1] == [401] * app.config["LOGIN_MAX_FAILURES"]
    assert statuses[-1] == 429
    # Even the right code waits now.
    right = client.post("/login/second-factor", data={
        "code": pyotp.TOTP(secret).now(), "csrf_token": _csrf(client, "/login/second-factor")})
    assert right.status_code == 429


def test_teacher_may_enrol_and_switch_off_admin_may_not(app, client, auth, db_session) -> None:
    app.config["SECOND_FACTOR_ROLES"] = ["admin", "pr"]
    school = factories.school(db_session)
    auth.as_role(db_session, "teacher", school=school)
    assert "No second factor yet" in client.get("/account/second-factor").get_data(as_text=True)
    _enrol(client)
    assert "A second factor is on" in client.get("/account/second-factor").get_data(as_text=True)
    client.post("/account/second-factor/off", data={"csrf_token": auth.csrf("/account/second-factor")})
    assert "No second factor yet" in client.get("/account/second-factor").get_data(as_text=True)

    client.post("/logout", data={"csrf_token": auth.csrf()})
    admin = factories.user(db_session, school=school, roles=("admin",))
    db_session.commit()
    auth.login(admin.email)
    _enrol(client, db_session, admin.email)
    off = client.post("/account/second-factor/off", data={"csrf_token": auth.csrf("/account/second-factor")},
                      follow_redirects=True)
    assert "Your role requires a second factor" in off.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(User, admin.id).totp_confirmed_at is not None


def test_a_password_alone_never_sets_up_a_first_second_factor(app, client, auth, db_session) -> None:
    """Whoever has only the password of an admin who never enrolled gets a mail sent, not a QR code."""
    [admin] = _staff(app, db_session, "admin")
    auth.login(admin.email)
    asked = client.get("/login/second-factor/setup")
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert "Check your mail" in page and admin.email in page
    assert "totp-secret" not in page and "<svg" not in page
    # Opening (or prefetching, or reloading) the page sends nothing: only the button does.
    client.get("/login/second-factor/setup")
    assert db_session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == admin.email)).all() == []
    assert "We sent a link" in _ask_for_link(client)
    # Posting a code straight away changes nothing either.
    client.post("/login/second-factor/setup", data={"code": "123456", "csrf_token": CSRF_RE.search(page).group(1)})
    _ask_for_link(client)  # pressed again within minutes: no second mail
    db_session.expire_all()
    assert db_session.get(User, admin.id).totp_secret_sealed is None
    links = db_session.scalars(select(AccountLink).where(AccountLink.user_id == admin.id)).all()
    assert [link.purpose for link in links] == ["enrol"]
    assert db_session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == admin.email)).all()
    assert client.get("/account/sessions").status_code == 302  # still not signed in


def test_the_set_up_link_is_opened_with_a_button_works_once_and_only_for_its_user(
        app, client, auth, db_session) -> None:
    admin, other = _staff(app, db_session, "admin", "pr")
    auth.login(admin.email)
    _ask_for_link(client)
    link = _set_up_link(db_session, admin.email)
    # A mail scanner that follows the link does not use it up.
    assert client.get(link).status_code == 200 and client.get(link).status_code == 200

    # Opened in a browser where someone else is signing in, it proves nothing for them.
    browser = app.test_client()
    browser.post("/login", data={"email": other.email, "password": factories.PASSWORD,
                                 "csrf_token": _csrf(browser, "/login")})
    assert _open_link(browser, link).headers["Location"].endswith("/login")
    asked = browser.get("/login/second-factor/setup").get_data(as_text=True)
    assert "Check your mail" in asked and "totp-secret" not in asked
    assert _open_link(client, link).status_code == 410  # used up, for its own user too
    asked = client.get("/login/second-factor/setup").get_data(as_text=True)
    assert "Check your mail" in asked and "totp-secret" not in asked
    db_session.expire_all()
    # Within minutes of the first, no second link goes out.
    assert len(db_session.scalars(select(AccountLink).where(AccountLink.user_id == admin.id)).all()) == 1


def test_the_set_up_link_leads_to_enrolment_and_cannot_set_a_password(app, client, auth, db_session) -> None:
    [admin] = _staff(app, db_session, "admin")
    before = admin.password_hash
    auth.login(admin.email)
    _ask_for_link(client)
    link = _set_up_link(db_session, admin.email)
    opened = client.post(link, data={"password": "an-attackers-password-1", "repeat": "an-attackers-password-1",
                                     "csrf_token": _csrf(client, link)})
    assert opened.headers["Location"].endswith("/login/second-factor/setup")
    db_session.expire_all()
    assert db_session.get(User, admin.id).password_hash == before
    _secret, codes = _enrol(client)
    assert len(codes) == 10
    assert client.get("/account/sessions").status_code == 200
    actions = [e.action for e in db_session.scalars(select(AuditEvent).where(AuditEvent.object_id == str(admin.id)))]
    assert "auth.enrol_sent" in actions and "auth.enrol_used" in actions


def test_an_invited_admin_sets_the_password_then_enrols_without_a_second_mail(app, client, auth, db_session) -> None:
    [admin] = _staff(app, db_session, "admin")
    issued = issue_link(db_session, actor=Actor.system("test"), user=admin, purpose="invite",
                        secret_key=app.config["SECRET_KEY"], valid_for=timedelta(hours=1), now=utcnow())
    db_session.commit()
    path = f"/account/link/{issued.token}"
    saved = client.post(path, data={"password": "my-own-password-1", "repeat": "my-own-password-1",
                                    "csrf_token": _csrf(client, path)})
    assert saved.headers["Location"].endswith("/login")
    auth.login(admin.email, "my-own-password-1")
    _secret, codes = _enrol(client)
    assert len(codes) == 10
    assert db_session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == admin.email)).all() == []


def test_without_mail_the_system_administrator_prints_a_set_up_link(app, client, auth, db_session, runner) -> None:
    [admin] = _staff(app, db_session, "admin")
    printed = runner.invoke(args=["users", "enrol-link", admin.email.upper()])
    assert printed.exit_code == 0, printed.output
    path = LINK_RE.search(printed.output).group(1)
    assert _open_link(client, path).headers["Location"].endswith("/login")  # opened first, then the password
    auth.login(admin.email)
    _secret, codes = _enrol(client)
    assert len(codes) == 10
    unknown = runner.invoke(args=["users", "enrol-link", "nobody@example.org"])
    assert unknown.exit_code == 1 and "No active account" in unknown.output
