"""A link from the first mailing still works after a second mailing: a parent withdraws one channel.

Before year links, a new round answered 410 on every earlier link. Here the
admin starts a second mailing in the browser, and the parent then opens the
link from the FIRST mailing's e-mail on a phone, sees the answer on file and
withdraws social media only; the website approval stays.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.consent.effective import has_consent
from consentflow.consent.links import LinkContext
from consentflow.consent.rounds import open_round
from consentflow.consent.signer import local_date
from consentflow.consent.submit import submit_via_link
from consentflow.consent.years import create_form_version, ensure_school_year
from consentflow.models import ConsentLink, ConsentRecord, ConsentRound, Guardian, OutboxMessage, Person, School, utcnow
from tests.e2e.conftest import LiveServer, login, make_user, screenshot

PURPOSES = ["website.photo", "social_media.photo", "newsletter.photo"]


def _seed(live: LiveServer) -> dict[str, Any]:
    from consentflow.extensions import db

    with live.app.app_context():
        actor = Actor.system("e2e")
        now = utcnow()
        n = db.session.query(School).count() + 1
        school = School(name="Basisschool De Regenboog", slug=f"e2e-links-{n}")
        db.session.add(school)
        db.session.flush()
        child = Person(school_id=school.id, kind="student", external_id=f"YL{n}", first_name="Daan",
                       last_name="Visser", date_of_birth=date(now.year - 9, 3, 1), group_name="5A")
        parent = Guardian(school_id=school.id, name="Eva Visser", email=f"eva{n}@example.org")
        child.guardians.append(parent)
        db.session.add_all([child, parent])
        db.session.flush()
        year = ensure_school_year(db.session, actor=actor, school_id=school.id, on=local_date(now), now=now)
        form = create_form_version(db.session, actor=actor, school_id=school.id, school_year_id=year.id,
                                   title="Toestemming beeldmateriaal", wording="Mogen wij foto's gebruiken?",
                                   purposes=PURPOSES, now=now - timedelta(days=10))
        ctx = LinkContext(live.url, live.app.config["SECRET_KEY"])
        open_round(db.session, actor=actor, school_id=school.id, school_year_id=year.id, form_id=form.id,
                   ctx=ctx, now=now - timedelta(days=9))
        link = db.session.scalar(select(ConsentLink).where(ConsentLink.person_id == child.id))
        submit_via_link(db.session, link=link, decisions={p: True for p in PURPOSES}, action="answer",
                        user_agent="e2e", submission_nonce=f"e2e-first-answer-{n:04d}",
                        storage_dir=live.app.config["STORAGE_DIR"], ctx=ctx, now=now - timedelta(days=8))
        first_mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == parent.email)
                                       .order_by(OutboxMessage.id))
        db.session.commit()
        url = re.search(r"http://127\.0\.0\.1:\d+/c/\S+", first_mail.body).group(0)
        return {"school_id": school.id, "child_id": child.id, "url": url, "email": parent.email}


def _consents(live: LiveServer, person_id: int, purpose: str) -> bool:
    from consentflow.extensions import db

    with live.app.app_context():
        return has_consent(db.session, person_id, purpose, local_date(utcnow()))


def test_a_first_mailing_link_withdraws_one_channel_after_a_second_mailing(
        live_server: LiveServer, browser_page: Any, phone_page: Any) -> None:
    seed = _seed(live_server)
    admin = browser_page
    login(admin, make_user(live_server, seed["school_id"], "admin"))
    admin.goto("/consent/")
    admin.select_option("select[name=audience]", "everyone")
    admin.fill("input[name=reminder_every_days]", "7")
    admin.fill("input[name=reminder_max]", "2")
    admin.click("#open-round")
    admin.wait_for_load_state("networkidle")
    assert admin.locator("h1", has_text="Verzending").count() == 1
    assert admin.locator("#links tbody tr", has_text="Daan").count() == 1
    screenshot(admin, "year-links-mailing.png")
    from consentflow.extensions import db

    with live_server.app.app_context():
        rounds = db.session.scalars(select(ConsentRound).where(ConsentRound.school_id == seed["school_id"])
                                    .order_by(ConsentRound.id)).all()
        assert len(rounds) == 2 and rounds[0].closed_at is not None  # the first mailing has ended
        mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == seed["email"])).all()
        assert len(mails) == 3  # first mailing, confirmation, second mailing: the same link

    page = phone_page
    response = page.goto(seed["url"])
    assert response.status == 200  # not 410: links outlive mailings
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.locator("#on-file").is_visible()
    assert page.is_checked("input[id='social_media.photo-yes']")
    page.click("label[for='social_media.photo-no']")
    page.click("#save")
    page.wait_for_url("**/done")
    screenshot(page, "year-links-first-link-after-second-mailing.png")
    assert not _consents(live_server, seed["child_id"], "social_media.photo")
    assert _consents(live_server, seed["child_id"], "website.photo")
    assert _consents(live_server, seed["child_id"], "newsletter.photo")
    with live_server.app.app_context():
        records = db.session.scalars(select(ConsentRecord).where(ConsentRecord.person_id == seed["child_id"])
                                     .order_by(ConsentRecord.id)).all()
        assert [r.method for r in records] == ["digital", "digital"]
        assert records[-1].decisions == {"website.photo": True, "social_media.photo": False,
                                         "newsletter.photo": True}
