"""Login, CSRF, throttling and session handling."""

from __future__ import annotations

from sqlalchemy import select

from consentflow.models import AuditEvent
from tests import factories
from tests.conftest import csrf_token


def _user(db_session, roles=("teacher",)):
    school = factories.school(db_session)
    user = factories.user(db_session, school=school, roles=roles)
    db_session.commit()
    return user


def test_login_and_logout(client, auth, db_session) -> None:
    user = _user(db_session)
    response = auth.login(user.email)
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login"))
    client.post("/logout", data={"csrf_token": auth.csrf()})
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(auth, db_session) -> None:
    user = _user(db_session)
    assert auth.login(user.email, "wrong-password-123").status_code == 401


def test_post_without_csrf_token_is_refused(client, db_session) -> None:
    user = _user(db_session)
    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_throttled_after_repeated_failures(app, auth, db_session) -> None:
    user = _user(db_session)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert auth.login(user.email, "wrong-password-123").status_code == 401
    # Even the right password is refused while throttled.
    assert auth.login(user.email).status_code == 429


def test_session_is_regenerated_at_login(client, auth, db_session) -> None:
    user = _user(db_session)
    csrf_token(client)
    with client.session_transaction() as sess:
        sess["planted"] = "by-attacker"
    auth.login(user.email)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert "_user_id" in sess


def test_cookie_flags(app, client, auth, db_session) -> None:
    user = _user(db_session)
    response = auth.login(user.email)
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))


def test_open_redirect_after_login_is_refused(client, db_session) -> None:
    user = _user(db_session)
    token = csrf_token(client)
    response = client.post("/login?next=//evil.example/", data={
        "email": user.email, "password": factories.PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_password_change_ends_old_sessions(client, auth, db_session) -> None:
    from consentflow.audit.service import Actor
    from consentflow.auth.service import set_password

    user = _user(db_session)
    auth.login(user.email)
    assert client.get("/").status_code == 200
    set_password(db_session, actor=Actor.system("test"), user=user, password="another-long-password")
    db_session.commit()
    assert client.get("/").status_code == 302


def test_language_switch(client, auth, db_session) -> None:
    user = _user(db_session)
    auth.login(user.email)
    client.post("/lang/nl", data={"csrf_token": auth.csrf(), "next": "/"})
    assert "Uitloggen" in client.get("/").get_data(as_text=True)
    client.post("/lang/en", data={"csrf_token": auth.csrf(), "next": "/"})
    assert "Log out" in client.get("/").get_data(as_text=True)


def test_dutch_is_the_default_language(migrated, tmp_path) -> None:
    from consentflow.config import default_config
    from tests.conftest import make_app

    assert default_config(str(tmp_path))["BABEL_DEFAULT_LOCALE"] == "nl"
    app = make_app(migrated, tmp_path / "nl", BABEL_DEFAULT_LOCALE="nl")
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "Inloggen" in page and 'lang="nl"' in page
