"""Sessions live on the server: a copied cookie dies with logout, password change or an admin."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from consentflow.models import AuditEvent, UserSession
from tests import factories
from tests.conftest import Auth


def _user(db_session, roles=("teacher",), school=None):
    school = school or factories.school(db_session)
    user = factories.user(db_session, school=school, roles=roles)
    db_session.commit()
    return user


def _copy_cookie(app, source: FlaskClient) -> FlaskClient:
    """A second browser holding a copy of the first one's session cookie (a stolen cookie)."""
    thief = app.test_client()
    cookie = source.get_cookie("session", domain="localhost")
    assert cookie is not None
    thief.set_cookie("session", cookie.value, domain="localhost")
    return thief


def test_copied_cookie_dies_with_logout(app, client, auth, db_session) -> None:
    user = _user(db_session)
    assert auth.login(user.email).status_code == 302
    thief = _copy_cookie(app, client)
    assert thief.get("/").status_code == 200  # the copy works while the session is open
    client.post("/logout", data={"csrf_token": auth.csrf()})
    response = thief.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    row = db_session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert row.revoked_at is not None


def test_copied_cookie_dies_with_password_change(app, client, auth, db_session) -> None:
    from consentflow.audit.service import Actor
    from consentflow.auth.service import set_password

    user = _user(db_session)
    auth.login(user.email)
    thief = _copy_cookie(app, client)
    assert thief.get("/").status_code == 200
    set_password(db_session, actor=Actor(user.id, user.email), user=user,
                 password="another-long-password")
    db_session.commit()
    assert thief.get("/").status_code == 302
    assert client.get("/").status_code == 302
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "user.set_password"))
    assert event.details["sessions_ended"] == 1


def test_copied_cookie_dies_even_if_user_token_is_kept(app, client, auth, db_session) -> None:
    """The session row alone decides: a revoked row signs the cookie out."""
    user = _user(db_session)
    auth.login(user.email)
    thief = _copy_cookie(app, client)
    row = db_session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    from consentflow.models import utcnow

    row.revoked_at = utcnow()
    db_session.commit()
    assert thief.get("/").status_code == 302


def test_my_sessions_lists_and_ends_another_browser(app, client, auth, db_session) -> None:
    user = _user(db_session)
    laptop = app.test_client()
    assert Auth(laptop).login(user.email).status_code == 302
    auth.login(user.email)
    page = client.get("/account/sessions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "this browser" in html
    rows = list(db_session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                                   .order_by(UserSession.id)))
    assert len(rows) == 2
    laptop_row = rows[0]
    assert laptop.get("/").status_code == 200
    response = client.post(f"/account/sessions/{laptop_row.id}/end",
                           data={"csrf_token": auth.csrf("/account/sessions")})
    assert response.status_code == 302
    assert laptop.get("/").status_code == 302
    assert client.get("/").status_code == 200  # this browser stays signed in


def test_cannot_end_someone_elses_session(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    other = _user(db_session, school=school)
    other_client = app.test_client()
    Auth(other_client).login(other.email)
    auth.as_role(db_session, "teacher", school=school)
    theirs = db_session.scalar(select(UserSession).where(UserSession.user_id == other.id))
    response = client.post(f"/account/sessions/{theirs.id}/end",
                           data={"csrf_token": auth.csrf("/account/sessions")})
    assert response.status_code == 404
    assert other_client.get("/").status_code == 200


def test_admin_ends_all_sessions_of_a_user_of_their_school(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    staff = _user(db_session, school=school)
    phone, laptop = app.test_client(), app.test_client()
    Auth(phone).login(staff.email)
    Auth(laptop).login(staff.email)
    auth.as_role(db_session, "admin", school=school)
    page = f"/admin/user/edit/?id={staff.id}"
    response = client.post(f"/admin/user/end-sessions/?id={staff.id}",
                           data={"csrf_token": auth.csrf(page)})
    assert response.status_code == 302
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 302
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.sessions_end_all"))
    assert event.details["sessions_ended"] == 2


def test_admin_of_another_school_cannot_end_sessions(app, client, auth, db_session) -> None:
    school_a, school_b = factories.school(db_session), factories.school(db_session)
    staff = _user(db_session, school=school_b)
    phone = app.test_client()
    Auth(phone).login(staff.email)
    auth.as_role(db_session, "admin", school=school_a)
    response = client.post(f"/admin/user/end-sessions/?id={staff.id}",
                           data={"csrf_token": auth.csrf("/account/sessions")})
    assert response.status_code == 404
    assert phone.get("/").status_code == 200
