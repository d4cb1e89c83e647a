"""TOTP second factor: required for admin and PR (the production default), throttled like the password."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from sqlalchemy import select

from consentflow.models import AuditEvent, RecoveryCode, User
from tests import factories

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SECRET_RE = re.compile(r'<code class="totp-secret">([A-Z2-7]+)</code>')


def _csrf(client: Any, path: str) -> str:
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


def _enrol(client: Any) -> tuple[str, list[str]]:
    page = client.get("/login/second-factor/setup").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1)
    assert "<svg" in page  # the QR code, drawn on the server
    done = client.post("/login/second-factor/setup", data={
        "code": pyotp.TOTP(secret).now(), "csrf_token": CSRF_RE.search(page).group(1)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.get_data(as_text=True))
    return secret, codes


def test_admin_with_a_password_alone_gets_no_session(app, client, auth, db_session) -> None:
    app.config["SECOND_FACTOR_ROLES"] = ["admin", "pr"]
    school = factories.school(db_session)
    admin = factories.user(db_session, school=school, roles=("admin",))
    db_session.commit()
    response = auth.login(admin.email)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/second-factor/setup")
    # Not signed in yet: pages need a login.
    assert client.get("/account/sessions").status_code == 302
    assert client.get("/admin/user/").status_code in (302, 403)


def test_enrolment_then_codes_work_once_and_recovery_codes_are_hashed(app, client, auth, db_session) -> None:
    app.config["SECOND_FACTOR_ROLES"] = ["admin", "pr"]
    school = factories.school(db_session)
    pr = factories.user(db_session, school=school, roles=("pr",))
    db_session.commit()
    auth.login(pr.email)
    secret, codes = _enrol(client)
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
    app.config["SECOND_FACTOR_ROLES"] = ["admin", "pr"]
    school = factories.school(db_session)
    admin = factories.user(db_session, school=school, roles=("admin",))
    db_session.commit()
    auth.login(admin.email)
    secret, _codes = _enrol(client)
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
    _enrol(client)
    off = client.post("/account/second-factor/off", data={"csrf_token": auth.csrf("/account/second-factor")},
                      follow_redirects=True)
    assert "Your role requires a second factor" in off.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(User, admin.id).totp_confirmed_at is not None
