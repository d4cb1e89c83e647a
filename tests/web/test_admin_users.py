"""Users in several schools: an admin of one school cannot take over an account shared with another."""

from __future__ import annotations

from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.auth.passwords import verify_password
from consentflow.auth.service import grant_role
from consentflow.models import Membership, User
from tests import factories
from tests.conftest import Auth


def _shared_user(db_session):
    """A teacher in school A who is also PR in school B, and an admin of A only."""
    school_a, school_b = factories.school(db_session), factories.school(db_session)
    shared = factories.user(db_session, school=school_a, roles=("teacher",))
    grant_role(db_session, actor=Actor.system("test"), user=shared, school=school_b, role="pr")
    db_session.commit()
    return school_a, school_b, shared


def _edit(client, auth, user, **fields):
    page = f"/admin/user/edit/?id={user.id}"
    data = {"name": user.name, "email": user.email, "active": "y",
            "csrf_token": auth.csrf(page), **fields}
    if data.get("active") is None:
        del data["active"]
    return client.post(page, data=data, follow_redirects=True)


def _memberships(db_session, user_id):
    db_session.expire_all()
    return sorted((m.school_id, m.role) for m in db_session.scalars(
        select(Membership).where(Membership.user_id == user_id)))


def test_admin_of_one_school_cannot_reset_a_shared_users_password(app, client, auth, db_session) -> None:
    school_a, school_b, shared = _shared_user(db_session)
    victim = app.test_client()
    assert Auth(victim).login(shared.email).status_code == 302
    auth.as_role(db_session, "admin", school=school_a)
    response = _edit(client, auth, shared, roles=[f"{school_a.id}:teacher"],
                     new_password="taken-over-password")
    assert response.status_code == 200
    assert "works at a school you do not administer" in response.get_data(as_text=True)
    db_session.expire_all()
    user = db_session.get(User, shared.id)
    assert verify_password(user.password_hash, factories.PASSWORD)
    assert not verify_password(user.password_hash, "taken-over-password")
    # The attacker cannot sign in with the password they tried to set.
    assert Auth(app.test_client()).login(shared.email, "taken-over-password").status_code == 401
    assert victim.get("/").status_code == 200


def test_admin_of_one_school_cannot_deactivate_or_rename_a_shared_account(client, auth, db_session) -> None:
    school_a, school_b, shared = _shared_user(db_session)
    auth.as_role(db_session, "admin", school=school_a)
    response = _edit(client, auth, shared, roles=[f"{school_a.id}:teacher"], active=None)
    assert "works at a school you do not administer" in response.get_data(as_text=True)
    response = _edit(client, auth, shared, roles=[f"{school_a.id}:teacher"],
                     email="attacker@example.org")
    assert "works at a school you do not administer" in response.get_data(as_text=True)
    db_session.expire_all()
    user = db_session.get(User, shared.id)
    assert user.active
    assert user.email == shared.email


def test_deactivation_in_one_school_removes_only_that_schools_roles(app, client, auth, db_session) -> None:
    school_a, school_b, shared = _shared_user(db_session)
    auth.as_role(db_session, "admin", school=school_a)
    response = _edit(client, auth, shared, roles=[])
    assert response.status_code == 200
    assert _memberships(db_session, shared.id) == [(school_b.id, "pr")]
    # Still works in school B.
    other = app.test_client()
    assert Auth(other).login(shared.email).status_code == 302
    assert other.get("/").status_code == 200
    # And is gone from school A's user list.
    assert shared.email not in client.get("/admin/user/").get_data(as_text=True)


def test_admin_of_all_the_users_schools_may_reset_the_password(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    staff = factories.user(db_session, school=school, roles=("teacher",))
    db_session.commit()
    auth.as_role(db_session, "admin", school=school)
    _edit(client, auth, staff, roles=[f"{school.id}:teacher"], new_password="a-brand-new-password")
    db_session.expire_all()
    assert verify_password(db_session.get(User, staff.id).password_hash, "a-brand-new-password")


def test_deactivating_ends_sessions(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    staff = factories.user(db_session, school=school, roles=("teacher",))
    db_session.commit()
    phone = app.test_client()
    Auth(phone).login(staff.email)
    auth.as_role(db_session, "admin", school=school)
    _edit(client, auth, staff, roles=[f"{school.id}:teacher"], active=None)
    db_session.expire_all()
    assert not db_session.get(User, staff.id).active
    assert phone.get("/").status_code == 302


def _admin_of_two(db_session):
    school_a, school_b = factories.school(db_session), factories.school(db_session)
    admin = factories.user(db_session, school=school_a, roles=("admin",))
    grant_role(db_session, actor=Actor.system("test"), user=admin, school=school_b, role="admin")
    db_session.commit()
    return school_a, school_b, admin


def test_admin_of_two_schools_creates_a_user_with_roles_in_both(client, auth, db_session) -> None:
    school_a, school_b, admin = _admin_of_two(db_session)
    assert auth.login(admin.email).status_code == 302
    page = "/admin/user/new/"
    response = client.post(page, data={
        "name": "Two Schools", "email": "Two.Schools@Example.org", "active": "y",
        "new_password": "a-long-enough-password",
        "roles": [f"{school_a.id}:teacher", f"{school_b.id}:pr"], "csrf_token": auth.csrf(page)})
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    user = db_session.scalar(select(User).where(User.email == "two.schools@example.org"))
    assert user is not None
    assert _memberships(db_session, user.id) == sorted([(school_a.id, "teacher"), (school_b.id, "pr")])


def test_roles_in_a_school_the_admin_does_not_run_are_refused(client, auth, db_session) -> None:
    school_a, school_b = factories.school(db_session), factories.school(db_session)
    db_session.commit()
    auth.as_role(db_session, "admin", school=school_a)
    page = "/admin/user/new/"
    response = client.post(page, data={
        "name": "Sneaky", "email": "sneaky@example.org", "active": "y",
        "new_password": "a-long-enough-password",
        "roles": [f"{school_a.id}:teacher", f"{school_b.id}:admin"], "csrf_token": auth.csrf(page)})
    assert response.status_code == 200
    assert db_session.scalar(select(User).where(User.email == "sneaky@example.org")) is None


def test_creating_an_existing_email_says_so(client, auth, db_session) -> None:
    school_a, school_b, shared = _shared_user(db_session)
    auth.as_role(db_session, "admin", school=school_a)
    page = "/admin/user/new/"
    response = client.post(page, data={
        "name": "Again", "email": shared.email.upper(), "active": "y",
        "new_password": "a-long-enough-password",
        "roles": [f"{school_a.id}:teacher"], "csrf_token": auth.csrf(page)}, follow_redirects=True)
    assert response.status_code == 200
    assert "already exists" in response.get_data(as_text=True)
    assert len(list(db_session.scalars(select(User).where(User.email == shared.email)))) == 1
