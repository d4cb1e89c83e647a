"""Invitations and password reset: signed, expiring, single-use links by real SMTP (loopback)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.auth.links import issue_link
from consentflow.auth.passwords import verify_password
from consentflow.jobs import get_queue
from consentflow.models import AuditEvent, User, utcnow
from tests import factories

LINK_RE = re.compile(r"http://\S+/account/link/\S+")


def _deliver(app: Any) -> None:
    """What the worker does: run the queued outbox job, which talks SMTP to the loopback server."""
    get_queue(app).run_pending()


def _link_in(message: Any) -> str:
    match = LINK_RE.search(message.get_content())
    assert match, message.get_content()
    return match.group(0).replace(match.group(0).split("/account/")[0], "")


def _actions(db_session: Any) -> list[str]:
    db_session.expire_all()
    return [e.action for e in db_session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_admin_invites_instead_of_typing_a_password(app, client, auth, db_session, mail_server) -> None:
    app.config.update(mail_server.config())
    school = factories.school(db_session)
    auth.as_role(db_session, "admin", school=school)
    page = "/admin/user/new/"
    response = client.post(page, data={
        "name": "Nieuwe Juf", "email": "nieuwe.juf@example.org", "active": "y",
        "roles": [f"{school.id}:teacher"], "csrf_token": auth.csrf(page)})
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    _deliver(app)
    [mail] = mail_server.wait_for(1)
    assert mail["To"] == "nieuwe.juf@example.org"
    link = _link_in(mail)

    client.post("/logout", data={"csrf_token": auth.csrf()})
    form = client.get(link)
    assert form.status_code == 200
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.get_data(as_text=True)).group(1)
    saved = client.post(link, data={"password": "my-own-password-1", "repeat": "my-own-password-1",
                                    "csrf_token": token})
    assert saved.status_code == 302
    user = db_session.scalar(select(User).where(User.email == "nieuwe.juf@example.org"))
    assert verify_password(user.password_hash, "my-own-password-1")
    assert auth.login("nieuwe.juf@example.org", "my-own-password-1").status_code == 302

    # Single use: the same link again is refused.
    client.post("/logout", data={"csrf_token": auth.csrf()})
    assert client.get(link).status_code == 410
    actions = _actions(db_session)
    assert "auth.invite_sent" in actions and "auth.invite_used" in actions


def test_forgotten_password_mail_does_not_reveal_whether_the_address_exists(
        app, client, auth, db_session, mail_server) -> None:
    app.config.update(mail_server.config())
    school = factories.school(db_session)
    user = factories.user(db_session, school=school, email="bekend@example.org")
    db_session.commit()

    answers = []
    for address in ("onbekend@example.org", "bekend@example.org"):
        response = client.post("/login/forgot", data={"email": address, "csrf_token": auth.csrf("/login/forgot")},
                               follow_redirects=True)
        said = response.get_data(as_text=True).count("a link to set a new password is on its way")
        answers.append((response.status_code, said))
    assert answers[0] == answers[1] == (200, 1)
    _deliver(app)
    received = mail_server.wait_for(1)
    assert [m["To"] for m in received] == ["bekend@example.org"]

    link = _link_in(received[0])
    page = client.get(link)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    short = client.post(link, data={"password": "short", "repeat": "short", "csrf_token": token})
    assert short.status_code == 200 and "at least 10 characters" in short.get_data(as_text=True)
    done = client.post(link, data={"password": "a-new-password-22", "repeat": "a-new-password-22",
                                   "csrf_token": token})
    assert done.status_code == 302
    db_session.expire_all()
    assert verify_password(db_session.get(User, user.id).password_hash, "a-new-password-22")
    assert "auth.reset_sent" in _actions(db_session) and "auth.reset_used" in _actions(db_session)


def test_expired_or_tampered_links_are_refused(app, client, db_session) -> None:
    school = factories.school(db_session)
    user = factories.user(db_session, school=school)
    issued = issue_link(db_session, actor=Actor.system("test"), user=user, purpose="reset",
                        secret_key=app.config["SECRET_KEY"], valid_for=timedelta(hours=1),
                        now=utcnow() - timedelta(hours=2))
    fresh = issue_link(db_session, actor=Actor.system("test"), user=user, purpose="invite",
                       secret_key=app.config["SECRET_KEY"], valid_for=timedelta(hours=1), now=utcnow())
    db_session.commit()
    assert client.get(f"/account/link/{issued.token}").status_code == 410
    assert client.get(f"/account/link/{fresh.token}").status_code == 200
    assert client.get(f"/account/link/{fresh.token[:-2]}xx").status_code == 410
    # A newer link of the same purpose replaces the older one.
    issue_link(db_session, actor=Actor.system("test"), user=user, purpose="invite",
               secret_key=app.config["SECRET_KEY"], valid_for=timedelta(hours=1), now=utcnow())
    db_session.commit()
    assert client.get(f"/account/link/{fresh.token}").status_code == 410


def test_send_invitation_again_only_for_accounts_the_admin_fully_runs(
        app, client, auth, db_session, mail_server) -> None:
    from consentflow.auth.service import grant_role

    app.config.update(mail_server.config())
    school_a, school_b = factories.school(db_session), factories.school(db_session)
    own = factories.user(db_session, school=school_a, email="eigen@example.org")
    shared = factories.user(db_session, school=school_a, email="gedeeld@example.org")
    grant_role(db_session, actor=Actor.system("test"), user=shared, school=school_b, role="pr")
    db_session.commit()
    auth.as_role(db_session, "admin", school=school_a)
    page = f"/admin/user/edit/?id={own.id}"
    sent = client.post(f"/admin/user/invite/?id={own.id}", data={"csrf_token": auth.csrf(page)},
                       follow_redirects=True)
    assert "An invitation is on its way to eigen@example.org." in sent.get_data(as_text=True)
    refused = client.post(f"/admin/user/invite/?id={shared.id}",
                          data={"csrf_token": auth.csrf(f"/admin/user/edit/?id={shared.id}")},
                          follow_redirects=True)
    assert "also works at a school you do not administer" in refused.get_data(as_text=True)
    _deliver(app)
    assert [m["To"] for m in mail_server.wait_for(1)] == ["eigen@example.org"]
