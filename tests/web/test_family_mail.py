"""Family mail through a real SMTP server (aiosmtpd on loopback), and the year-link admin pages.

The mail is read back as the family's mail program would: multipart with a
Dutch plain-text and HTML part, the school's name as sender, the personal
link (which opens the consent page), and dates in the school's time zone.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import select

from consentflow.consent.links import LinkContext
from consentflow.consent.outbox import MailSettings, send_pending
from consentflow.consent.signer import SCHOOL_TZ
from consentflow.consent.submit import submit_via_link
from consentflow.models import ConsentLink, OutboxMessage, utcnow
from tests import factories
from tests.web.test_consent_public import PURPOSES, setup_round

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LINK_RE = re.compile(r"http://localhost/c/[A-Za-z0-9_.\-]+")


def _deliver(app: Any, db_session: Any, mail_server: Any) -> None:
    send_pending(db_session, MailSettings.from_config(app.config | mail_server.config()), utcnow())
    db_session.commit()


def _parts(message: Any) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_the_invitation_arrives_in_dutch_with_a_working_link(app, client, db_session, mail_server) -> None:
    school, child, link = setup_round(db_session, app)
    _deliver(app, db_session, mail_server)
    [message] = mail_server.wait_for(1)
    assert message["To"] == "pat@example.org"
    assert message["From"].addresses[0].display_name == school.name
    assert message.is_multipart() and message.get_content_type() == "multipart/alternative"
    text, html = _parts(message)
    assert message["Subject"] == f"Foto's en video van Mila op {school.name}: uw keuze"
    assert "Beste Pat Parent," in text and "Met vriendelijke groet," in text and "Dear" not in text
    assert 'lang="nl"' in html and "Keuze geven, wijzigen of intrekken" in html
    # The school year's last day, written out in Dutch ("31 juli 2027").
    ends = link.round.school_year.ends_on
    dutch_months = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
                    "september", "oktober", "november", "december"]
    assert f"tot en met {ends.day} {dutch_months[ends.month - 1]} {ends.year}" in text
    url = LINK_RE.search(text).group(0)
    assert url in html
    page = client.get(url.replace("http://localhost", "") + "?lang=nl")
    assert page.status_code == 200 and "Mila" in page.get_data(as_text=True)


def test_the_confirmation_has_the_link_and_the_school_date_not_the_utc_date(app, db_session, mail_server) -> None:
    school, child, link = setup_round(db_session, app)
    db_session.query(OutboxMessage).delete()
    # 23:30 UTC on a winter evening is already the next day in the Netherlands.
    evening = datetime.combine(utcnow().date(), time(23, 30), timezone.utc)
    if evening > utcnow():
        evening -= timedelta(days=1)
    local = evening.astimezone(SCHOOL_TZ).date()
    submit_via_link(db_session, link=link, decisions={p: p != "social_media.photo" for p in PURPOSES},
                    action="answer", user_agent="t", submission_nonce="c" * 20,
                    storage_dir=app.config["STORAGE_DIR"],
                    ctx=LinkContext("http://localhost", app.config["SECRET_KEY"]), now=evening)
    db_session.commit()
    _deliver(app, db_session, mail_server)
    [message] = mail_server.wait_for(1)
    text, html = _parts(message)
    assert message["Subject"] == "Uw keuze voor Mila is vastgelegd"
    from babel.dates import format_date

    assert f"Op {format_date(local, 'long', locale='nl')} heeft" in text
    assert "Sociale media" in text or "sociale media" in text.lower()
    assert LINK_RE.search(text) and LINK_RE.search(html)


def test_the_recipients_language_is_used_when_they_chose_one(app, client, db_session, mail_server) -> None:
    school, child, link = setup_round(db_session, app)
    db_session.query(OutboxMessage).delete()
    db_session.commit()
    from consentflow.consent.links import make_token

    token = make_token(app.config["SECRET_KEY"], link.nonce)
    assert client.get(f"/c/{token}?lang=en").status_code == 200
    db_session.refresh(link)
    assert link.language == "en"
    auth_client = app.test_client()
    from tests.conftest import Auth

    Auth(auth_client).as_role(db_session, "admin", school=school)
    csrf = CSRF_RE.search(auth_client.get(f"/consent/person/{child.id}").get_data(as_text=True)).group(1)
    assert auth_client.post(f"/consent/links/{link.id}/resend",
                            data={"csrf_token": csrf, "back": "person"}).status_code == 302
    _deliver(app, db_session, mail_server)
    [message] = mail_server.wait_for(1)
    assert message["Subject"].startswith("Photos and video of Mila")


def test_a_failed_delivery_is_shown_in_the_outbox_in_dutch(app, client, auth, db_session, mail_server) -> None:
    from tests.mailserver import _free_port

    school, _child, _link = setup_round(db_session, app)
    # A port nothing listens on: the mail server is down.
    app.config.update(mail_server.config() | {"MAIL_PORT": _free_port()})
    auth.as_role(db_session, "admin", school=school)
    with client.session_transaction() as browser_session:
        browser_session["lang"] = "nl"
    csrf = CSRF_RE.search(client.get("/consent/outbox").get_data(as_text=True)).group(1)
    response = client.post("/consent/outbox/send", data={"csrf_token": csrf}, headers={"Accept-Language": "nl"})
    assert response.status_code == 302
    message = db_session.scalar(select(OutboxMessage))
    assert message.sent_at is None and message.error
    page = client.get("/consent/outbox").get_data(as_text=True)
    assert "mislukt" in page and "Connection refused" in page and 'id="outbox-errors"' in page
    # The server is back: the next send delivers and clears the error.
    app.config.update(mail_server.config())
    client.post("/consent/outbox/send", data={"csrf_token": csrf})
    db_session.refresh(message)
    assert message.sent_at is not None and message.error is None and len(mail_server.wait_for(1)) == 1


def test_admin_sends_a_newcomer_their_link_and_prints_a_letter(app, client, auth, db_session) -> None:
    school, _child, link = setup_round(db_session, app)
    newcomer = factories.person(db_session, school=school, first="Nina")
    no_mail = factories.guardian(db_session, school=school, children=[newcomer], name="Ouder zonder mail")
    no_mail.email = None
    db_session.commit()
    auth.as_role(db_session, "admin", school=school)
    page = client.get(f"/consent/person/{newcomer.id}").get_data(as_text=True)
    assert 'id="send-link"' in page
    csrf = CSRF_RE.search(page).group(1)
    assert client.post(f"/consent/people/{newcomer.id}/send-link", data={"csrf_token": csrf}).status_code == 302
    [new_link] = db_session.scalars(select(ConsentLink).where(ConsentLink.person_id == newcomer.id)).all()
    assert new_link.round_id == link.round_id
    person_page = client.get(f"/consent/person/{newcomer.id}").get_data(as_text=True)
    assert f"/consent/links/{new_link.id}/letter.pdf" in person_page
    pdf = client.get(f"/consent/links/{new_link.id}/letter.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Cache-Control"] == "private, no-store"
    letters = client.get(f"/consent/rounds/{link.round_id}/letters.pdf")
    assert letters.status_code == 200 and letters.data.startswith(b"%PDF")
    # The round page lists the year's links, with letters for those without e-mail.
    round_page = client.get(f"/consent/rounds/{link.round_id}").get_data(as_text=True)
    assert f'data-link="{new_link.id}"' in round_page and 'id="letters"' in round_page


def test_another_schools_admin_gets_no_letter_and_sends_no_link(app, client, auth, db_session) -> None:
    _school, child, link = setup_round(db_session, app)
    other = factories.school(db_session)
    auth.as_role(db_session, "admin", school=other)
    assert client.get(f"/consent/links/{link.id}/letter.pdf").status_code == 404
    csrf = CSRF_RE.search(client.get("/consent/").get_data(as_text=True)).group(1)
    assert client.post(f"/consent/people/{child.id}/send-link", data={"csrf_token": csrf}).status_code == 404


def test_a_teacher_cannot_print_letters(app, client, auth, db_session) -> None:
    school, _child, link = setup_round(db_session, app)
    auth.as_role(db_session, "teacher", school=school)
    assert client.get(f"/consent/links/{link.id}/letter.pdf").status_code == 403


def test_expired_and_forged_links_get_a_dutch_page(app, client, db_session) -> None:
    _school, _child, link = setup_round(db_session, app)
    from consentflow.consent.links import make_token

    token = make_token(app.config["SECRET_KEY"], link.nonce)
    link.expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    expired = client.get(f"/c/{token}?lang=nl")
    assert expired.status_code == 410 and "Deze link is verlopen" in expired.get_data(as_text=True)
    forged = client.get("/c/niet-echt?lang=nl")
    assert forged.status_code == 404 and "Deze link kan niet worden gebruikt" in forged.get_data(as_text=True)


def test_a_new_mailing_from_the_admin_page_keeps_the_first_link_working(app, client, auth, db_session) -> None:
    school, _child, link = setup_round(db_session, app)
    from consentflow.consent.links import make_token

    url = "/c/" + make_token(app.config["SECRET_KEY"], link.nonce)
    auth.as_role(db_session, "admin", school=school)
    csrf = CSRF_RE.search(client.get("/consent/").get_data(as_text=True)).group(1)
    response = client.post("/consent/rounds", data={"csrf_token": csrf, "form_id": link.round.form_id,
                                                    "audience": "everyone", "reminder_every_days": 5,
                                                    "reminder_max": 2})
    assert response.status_code == 302
    family = app.test_client()
    assert family.get(url).status_code == 200


def test_send_link_says_why_nobody_can_be_asked(app, client, auth, db_session) -> None:
    school, _child, _link = setup_round(db_session, app)
    orphan = factories.person(db_session, school=school, first="Olaf")
    db_session.commit()
    auth.as_role(db_session, "admin", school=school)
    csrf = CSRF_RE.search(client.get(f"/consent/person/{orphan.id}").get_data(as_text=True)).group(1)
    response = client.post(f"/consent/people/{orphan.id}/send-link", data={"csrf_token": csrf},
                           follow_redirects=True)
    assert "No guardian is registered for this person" in response.get_data(as_text=True)
    assert db_session.scalars(select(ConsentLink).where(ConsentLink.person_id == orphan.id)).all() == []
