"""Takedowns reach PR (issue 8, item 7): count, mail, publication state, family overview.

A real publication (published through the service with the real face check),
a withdrawal through the consent registry, the outbox delivered to a real
SMTP server on loopback, and the pages read in Dutch.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.consent.links import make_token, new_nonce
from consentflow.consent.service import record_consent
from consentflow.faces.matching import MatchThresholds
from consentflow.jobs import get_queue
from consentflow.models import AuditEvent, ConsentLink, ConsentRound, OutboxMessage, utcnow
from consentflow.publish.service import approve_purpose, publish_photo
from consentflow.publish.takedown import complete_takedown, open_takedowns
from consentflow.publish.takedown_mail import TAKEDOWNS_PATH
from tests import factories
from tests.services.test_publish_support import APPROVED_AT, PUBLISH_AT, build_world, confirm_both

pytestmark = [pytest.mark.slow]
BOTH = {"social_media.photo": True, "website.photo": True}
WITHDRAW_AT = PUBLISH_AT + timedelta(days=2)
# 23:30 UTC on 31 October is already 1 November in Amsterdam (CET, UTC+1).
DONE_AT = datetime(2026, 10, 31, 23, 30, tzinfo=timezone.utc)


def _consent(db_session, app, w, person, decisions, at):
    return record_consent(
        db_session, actor=Actor.system("test"), person_id=person.id, school_year_id=w.year.id,
        form_id=w.form.id, decisions=decisions, signer_kind="self", signer_guardian_id=None,
        signer_name=None, method="in_person", signed_at=at, evidence=None,
        evidence_filename=None, storage_dir=app.config["STORAGE_DIR"], now=at)


def _published_world(db_session, app):
    w = build_world(db_session, app)
    for person in (w.obama, w.biden):
        _consent(db_session, app, w, person, BOTH, APPROVED_AT - timedelta(days=20))
    confirm_both(db_session, w)
    approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                    channel="social_media", expected_version=None, now=APPROVED_AT)
    publication = publish_photo(db_session, actor=w.actor, school_id=w.school.id,
                                photo_id=w.photo.id, channel="social_media", storage=w.storage,
                                now=PUBLISH_AT, tolerance=MatchThresholds.defaults().loose,
                                channel_note="Instagram @school")
    db_session.commit()
    return w, publication


def _self_link(db_session, app, w, person) -> str:
    rnd = ConsentRound(school_id=w.school.id, school_year_id=w.year.id, form_id=w.form.id,
                       opened_at=utcnow())
    db_session.add(rnd)
    db_session.flush()
    link = ConsentLink(school_id=w.school.id, round_id=rnd.id, person_id=person.id,
                       guardian_id=None, nonce=new_nonce(), expires_at=utcnow() + timedelta(days=30))
    db_session.add(link)
    db_session.commit()
    return "/c/" + make_token(app.config["SECRET_KEY"], link.nonce)


def _deliver(app) -> None:
    """What the worker does: run the outbox job."""
    queue = get_queue(app)
    queue.enqueue("outbox.send")
    queue.run_pending()


def _count_badge(html: str) -> str | None:
    found = re.search(r'class="badge warn nav-count" data-endpoint="publish.takedowns"[^>]*>(\d+)<',
                      html)
    return found.group(1) if found else None


def test_a_withdrawal_reaches_pr_by_mail_menu_and_pages(app, client, auth, db_session,
                                                        mail_server: Any) -> None:
    app.config.update(mail_server.config(), BABEL_DEFAULT_LOCALE="nl",
                      PUBLIC_BASE_URL="https://consent.school.example")
    w, publication = _published_world(db_session, app)
    second_pr = factories.user(db_session, school=w.school, roles=("pr",))
    factories.user(db_session, school=w.school, roles=("teacher",))  # no mail for a teacher
    other = factories.school(db_session)
    factories.user(db_session, school=other, roles=("pr",))  # nor for another school's PR
    admin = factories.user(db_session, school=w.school, roles=("admin",))
    other_admin = factories.user(db_session, school=other, roles=("admin",))
    overview_url = _self_link(db_session, app, w, w.obama) + "/overview"
    db_session.commit()

    # Obama withdraws social media.
    _consent(db_session, app, w, w.obama, {"social_media.photo": False, "website.photo": True},
             WITHDRAW_AT)
    db_session.commit()
    (task,) = open_takedowns(db_session, w.school.id)

    # Mail: one per PR officer of this school, in Dutch, through real SMTP.
    _deliver(app)
    received = mail_server.wait_for(2)
    assert sorted(r for item in mail_server.received for r in item.recipients) == sorted(
        [w.user.email, second_pr.email])
    (mail,) = mail_server.to(w.user.email)
    assert mail["Subject"] == f"1 publicatie moet worden verwijderd: {w.school.name}"
    body = mail.get_content()
    assert "Sociale media" in body or "sociale media" in body, body
    assert "social_media" not in body and "Instagram @school" in body
    assert "Obama" not in body  # who it is, is on the takedown page, not in e-mail
    url = "https://consent.school.example" + TAKEDOWNS_PATH
    assert url in body
    with app.test_request_context():
        from flask import url_for

        assert url_for("publish.takedowns") == TAKEDOWNS_PATH
    assert len(received) == 2
    assert db_session.scalar(select(OutboxMessage).where(
        OutboxMessage.to_address == w.user.email)).sent_at is not None

    # PR: the count in the menu and on the start page; the publication is "removal pending".
    auth.login(w.user.email)
    home = client.get("/").get_data(as_text=True)
    assert _count_badge(home) == "1"
    assert "1 open" in home
    page = client.get(f"/publish/publication/{publication.id}").get_data(as_text=True)
    assert "Verwijdering in behandeling" in page and 'id="download"' not in page
    response = client.get(f"/publish/publication/{publication.id}/download")
    assert response.status_code == 410
    assert response.mimetype == "text/html"
    assert not db_session.scalar(select(AuditEvent).where(
        AuditEvent.action == "publication.downloaded"))

    # The family overview says "removal pending".
    family = client.get(overview_url).get_data(as_text=True)
    block = family[family.index(f'data-publication="{publication.id}"'):]
    block = block[:block.index("</article>")]
    assert "verwijdering in behandeling" in block

    # The school's administrator sees the count too; another school's administrator does not.
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(admin.email)
    assert _count_badge(client.get("/").get_data(as_text=True)) == "1"
    admin_page = client.get("/publish/takedowns")
    assert admin_page.status_code == 200 and "Markeren als verwijderd" not in admin_page.get_data(as_text=True)
    # The administrator may look at the publication to be removed, not download or close it.
    seen = client.get(f"/publish/publication/{publication.id}").get_data(as_text=True)
    assert "Verwijdering in behandeling" in seen and 'id="download"' not in seen
    assert client.get(f"/publish/publication/{publication.id}/image").status_code == 200
    assert client.get(f"/publish/publication/{publication.id}/download").status_code == 403
    assert client.post(f"/publish/takedowns/{task.id}/done",
                       data={"csrf_token": auth.csrf(), "note": "x"}).status_code == 403
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(other_admin.email)
    assert _count_badge(client.get("/").get_data(as_text=True)) is None

    # PR records the removal: taken down, with the date in the school's time zone.
    complete_takedown(db_session, actor=w.actor, school_id=w.school.id, task_id=task.id,
                      note="Instagram-bericht verwijderd", now=DONE_AT)
    db_session.commit()
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(w.user.email)
    home = client.get("/").get_data(as_text=True)
    assert _count_badge(home) is None
    page = client.get(f"/publish/publication/{publication.id}").get_data(as_text=True)
    assert "Verwijderd op 2026-11-01 00:30" in page and 'id="download"' not in page
    assert client.get(f"/publish/publication/{publication.id}/download").status_code == 410
    family = client.get(overview_url).get_data(as_text=True)
    block = family[family.index(f'data-publication="{publication.id}"'):]
    block = block[:block.index("</article>")]
    assert "verwijderd op 2026-11-01" in block and "in behandeling" not in block
