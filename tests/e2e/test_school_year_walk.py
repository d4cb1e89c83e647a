"""A school year in a real browser, with real mail: issue 8's "done when" as one walk.

The steps each have their own focused tests; this walk checks they hold
together, in the order a school meets them:

1. the admin imports the roster (CSV through the import page) and opens a
   mailing for the year;
2. the families' mail is received by a real SMTP server (aiosmtpd on
   loopback), in Dutch, with the personal link;
3. a newcomer is imported later and the admin sends their link from the
   person page;
4. after one family answered, the admin sets the reminder schedule on the
   mailing page and the worker's daily task sends reminders: only to those
   who have not answered;
5. after a second mailing, a family withdraws social media with the link
   from the FIRST mail; PR sees the takedown in the menu and completes it,
   and the website approval of the same photo stays;
6. a student turns 16 today (school time): the daily task mails them their
   own link, they answer for themselves, and the guardian's link no longer
   shows their choices.

The worker is this test's thread: ``run_consent_day`` is the daily task's
body and ``send_pending`` the outbox task's, called with the app's settings.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.consent.effective import has_consent
from consentflow.consent.links import LinkContext
from consentflow.consent.outbox import MailSettings, send_pending
from consentflow.consent.signer import local_date
from consentflow.consent.tasks import run_consent_day
from consentflow.consent.years import create_form_version, ensure_school_year
from consentflow.models import (
    ConsentRecord,
    Person,
    Photo,
    PhotoPurpose,
    Publication,
    School,
    TakedownTask,
    utcnow,
)
from tests import factories
from tests.e2e.conftest import LiveServer, login, make_user, screenshot

PURPOSES = ["website.photo", "social_media.photo", "newsletter.photo"]
HEADER = "Leerlingnummer;Roepnaam;Achternaam;Geboortedatum;Klas;E-mail;Naam ouder;E-mail ouder\n"


def _years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _seed(live: LiveServer) -> dict[str, Any]:
    """A school with a form version for this year; the roster comes from the import page."""
    from consentflow.extensions import db

    with live.app.app_context():
        actor = Actor.system("e2e")
        now = utcnow()
        n = db.session.query(School).count() + 1
        school = School(name="Basisschool Het Jaar", slug=f"year-walk-{n}")
        db.session.add(school)
        db.session.flush()
        year = ensure_school_year(db.session, actor=actor, school_id=school.id, on=local_date(now), now=now)
        create_form_version(db.session, actor=actor, school_id=school.id, school_year_id=year.id,
                            title="Toestemming beeldmateriaal", wording="Mogen wij foto's gebruiken?",
                            purposes=PURPOSES, now=now - timedelta(days=1))
        db.session.commit()
        return {"school_id": school.id, "n": n}


def _row(number: str, first: str, born: date, group: str, own_email: str, parent: str, email: str) -> str:
    return f"{number};{first};Walker;{born.isoformat()};{group};{own_email};{parent};{email}\n"


def _import(page: Any, body: str) -> None:
    page.goto("/people/import")
    page.set_input_files("input[name=file]", {"name": "export.csv", "mimeType": "text/csv",
                                              "buffer": body.encode()})
    page.click("form[enctype] button.primary")
    page.wait_for_load_state("networkidle")


def _open_mailing(page: Any) -> str:
    """Open a mailing to everyone from the consent page; returns the mailing page's address."""
    page.goto("/consent/")
    page.select_option("select[name=audience]", "everyone")
    page.fill("input[name=reminder_every_days]", "7")
    page.fill("input[name=reminder_max]", "2")
    page.click("#open-round")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1", has_text="Verzending").count() == 1
    return str(page.url)


def _person_id(live: LiveServer, school_id: int, number: str) -> int:
    from consentflow.extensions import db

    with live.app.app_context():
        person_id = db.session.scalar(select(Person.id).where(Person.school_id == school_id,
                                                              Person.external_id == number))
        assert person_id is not None, f"{number} was not imported"
        return int(person_id)


def _received(mail_server: Any, address: str, count: int) -> list[Any]:
    """The messages to ``address``, once ``count`` of them arrived (the server runs in a thread)."""
    for _ in range(200):
        messages = mail_server.to(address)
        if len(messages) >= count:
            return messages
        mail_server.wait_for(len(mail_server.received) + 1, timeout=0.05)
    raise AssertionError(f"{address} received {len(mail_server.to(address))} messages, expected {count}")


def _text(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def _html(message: Any) -> str:
    return str(message.get_body(preferencelist=("html",)).get_content())


def _link(live: LiveServer, message: Any) -> str:
    match = re.search(re.escape(live.url) + r"/c/[A-Za-z0-9_.\-]+", _text(message))
    assert match, _text(message)
    assert match.group(0) in _html(message)
    return match.group(0)


def _worker_day(live: LiveServer, now: datetime) -> dict[str, int]:
    """The worker's daily consent task for ``now``, then its outbox task."""
    from consentflow.extensions import db

    with live.app.app_context():
        try:
            totals = run_consent_day(db.session, LinkContext(live.url, live.app.config["SECRET_KEY"]), now)
            db.session.commit()
            send_pending(db.session, MailSettings.from_config(live.app.config), utcnow())
            db.session.commit()
            return totals
        finally:
            db.session.remove()


def _deliver(live: LiveServer) -> None:
    """The worker's outbox task (every ten minutes in production)."""
    from consentflow.extensions import db

    with live.app.app_context():
        try:
            send_pending(db.session, MailSettings.from_config(live.app.config), utcnow())
            db.session.commit()
        finally:
            db.session.remove()


def _consents(live: LiveServer, person_id: int, purpose: str) -> bool:
    from consentflow.extensions import db

    with live.app.app_context():
        try:
            return has_consent(db.session, person_id, purpose, local_date(utcnow()))
        finally:
            db.session.remove()


def _answer(page: Any, url: str, choices: dict[str, bool]) -> None:
    response = page.goto(url)
    assert response.status == 200
    assert page.locator("html").get_attribute("lang") == "nl"
    for purpose, yes in choices.items():
        page.click(f"label[for='{purpose}-{'yes' if yes else 'no'}']")
    page.click("#save")
    page.wait_for_url("**/done")


def _published_photo(live: LiveServer, school_id: int, person_id: int) -> dict[str, Any]:
    """A photo showing the child (an assigned face), approved for website and social media,
    published on social media by the school's PR officer: built with the services, as the
    review would leave it."""
    from consentflow.extensions import db
    from consentflow.photos.boxes import Box
    from consentflow.photos.storage import LocalStorage, content_key
    from consentflow.publish.redact import render_derivative
    from consentflow.review.service import record_review
    from tests.services.test_publish_support import FACES, OBAMA_BOX, add_face

    with live.app.app_context():
        now = utcnow()
        school = db.session.get(School, school_id)
        pr = factories.user(db.session, school=school, roles=("pr",))
        album = factories.album(db.session, school=school, purposes=("website", "social_media"))
        storage = LocalStorage(live.app.config["STORAGE_DIR"])
        data = (FACES / "obama.jpg").read_bytes()
        from PIL import Image

        with Image.open(FACES / "obama.jpg") as image:
            width, height = image.size
        photo = Photo(school_id=school_id, album_id=album.id, sha256=hashlib.sha256(data).hexdigest(),
                      storage_key=storage.put(data), original_filename="obama.jpg", media_type="image/jpeg",
                      width=width, height=height, byte_size=len(data), state="needs_review")
        db.session.add(photo)
        db.session.flush()
        face = add_face(db.session, photo, OBAMA_BOX)
        record_review(db.session, actor=Actor(pr.id, pr.email), school_id=school_id, face_id=face.id,
                      kind="assign", person_id=person_id, expected_version=None, now=now)
        photo.state = "approved"
        for channel in ("website", "social_media"):
            db.session.add(PhotoPurpose(photo_id=photo.id, purpose=channel, status="approved",
                                        decided_by_id=pr.id, decided_at=now))
        derivative = render_derivative(data, [Box(*OBAMA_BOX)])
        publication = Publication(
            school_id=school_id, photo_id=photo.id, purpose="social_media", channel_note="Instagram @hetjaar",
            derivative_sha256=derivative.sha256,
            derivative_key=storage.put_at(content_key(derivative.data, "deriv"), derivative.data),
            maker_credit="J. Fotograaf", published_by_id=pr.id, published_at=now,
            snapshot=[{"face_id": face.id, "box": list(OBAMA_BOX), "person_id": person_id, "name": "Daan Walker",
                       "decision": "show", "basis": "consent", "consent_record_id": None, "review_id": None,
                       "note": None}])
        db.session.add(publication)
        db.session.commit()
        return {"photo_id": photo.id, "publication_id": publication.id, "pr_email": str(pr.email)}


def _approvals(live: LiveServer, photo_id: int) -> dict[str, str]:
    from consentflow.extensions import db

    with live.app.app_context():
        try:
            return {pp.purpose: pp.status for pp in db.session.scalars(
                select(PhotoPurpose).where(PhotoPurpose.photo_id == photo_id))}
        finally:
            db.session.remove()


@pytest.fixture
def mailing_app(live_server: LiveServer, mail_server: Any) -> Iterator[Any]:
    """The live app sends through the loopback SMTP server for this test only."""
    keys = mail_server.config().keys()
    saved = {key: live_server.app.config.get(key) for key in keys}
    live_server.app.config.update(mail_server.config())
    try:
        yield mail_server
    finally:
        live_server.app.config.update(saved)


def test_a_school_year(live_server: LiveServer, browser: Any, browser_page: Any, phone_page: Any,
                       mailing_app: Any) -> None:
    from consentflow.extensions import db

    mail = mailing_app
    seed = _seed(live_server)
    school_id, n = seed["school_id"], seed["n"]
    today = local_date(utcnow())
    nine = _years_before(today, 9) - timedelta(days=40)
    parents = {first: f"{first.lower()}.parent.{n}@example.org" for first in ("Daan", "Noor", "Sem", "Lotte")}
    sem_email = f"sem.{n}@example.org"
    numbers = {first: f"W{n}{i}" for i, first in enumerate(("Daan", "Noor", "Sem", "Lotte"))}

    # --- 1. the admin imports the roster and opens a mailing ------------------------------
    admin = browser_page
    login(admin, make_user(live_server, school_id, "admin"))
    _import(admin, HEADER
            + _row(numbers["Daan"], "Daan", nine, "5A", "", "Eva Walker", parents["Daan"])
            + _row(numbers["Noor"], "Noor", nine, "5A", "", "Pim Walker", parents["Noor"])
            + _row(numbers["Sem"], "Sem", _years_before(today, 15), "4H", sem_email, "Ria Walker", parents["Sem"]))
    ids = {first: _person_id(live_server, school_id, numbers[first]) for first in ("Daan", "Noor", "Sem")}
    mailing_url = _open_mailing(admin)
    screenshot(admin, "year-walk-mailing.png")

    # --- 2. each family receives a Dutch mail with its personal link --------------------------
    first_mails = {first: _received(mail, parents[first], 1)[0] for first in ("Daan", "Noor", "Sem")}
    daan_mail = first_mails["Daan"]
    assert daan_mail["From"].addresses[0].display_name == "Basisschool Het Jaar"
    assert daan_mail["Subject"] == "Foto's en video van Daan op Basisschool Het Jaar: uw keuze"
    assert "Beste Eva Walker," in _text(daan_mail) and "Dear" not in _text(daan_mail)
    assert 'lang="nl"' in _html(daan_mail)
    first_links = {first: _link(live_server, message) for first, message in first_mails.items()}
    assert len(set(first_links.values())) == 3  # personal: one link per child and guardian
    assert sem_email not in {a for r in mail.received for a in r.recipients}  # 15: the guardian signs

    # --- 3. a newcomer is imported later; the admin sends their link from the person page ----------
    _import(admin, HEADER + _row(numbers["Lotte"], "Lotte", nine, "5A", "", "Bas Walker", parents["Lotte"]))
    ids["Lotte"] = _person_id(live_server, school_id, numbers["Lotte"])
    admin.goto(f"/consent/person/{ids['Lotte']}")
    admin.click("#send-link")
    admin.wait_for_load_state("networkidle")
    screenshot(admin, "year-walk-send-link.png")
    lotte_link = _link(live_server, _received(mail, parents["Lotte"], 1)[0])
    assert lotte_link not in first_links.values()

    # --- 4. one family answers; the reminders reach only those who have not ----------------------
    _answer(phone_page, first_links["Daan"], {p: True for p in PURPOSES})
    assert _consents(live_server, ids["Daan"], "social_media.photo")
    admin.goto(mailing_url)
    admin.fill("#reminders input[name=reminder_every_days]", "1")
    admin.fill("#reminders input[name=reminder_max]", "1")
    admin.click("#reminders button")
    admin.wait_for_load_state("networkidle")
    before = {first: len(mail.to(address)) for first, address in parents.items()}
    # The worker's daily run, a day and an hour later: the schedule says "every day".
    totals = _worker_day(live_server, utcnow() + timedelta(days=1, hours=1))
    assert totals["reminders"] == 3
    for first in ("Noor", "Sem", "Lotte"):
        reminder = _received(mail, parents[first], before[first] + 1)[-1]
        assert _link(live_server, reminder) in (first_links.get(first), lotte_link)  # the same link
    _deliver(live_server)  # anything still queued (Daan's confirmation) has gone out too
    daan_mails = mail.to(parents["Daan"])
    assert len(daan_mails) == before["Daan"] + 1 == 2  # invitation and confirmation, no reminder

    # --- 5. a second mailing; the first mail's link withdraws ONE channel; PR takes it down ------------
    seeded = _published_photo(live_server, school_id, ids["Daan"])
    _open_mailing(admin)
    _answer(phone_page, first_links["Daan"], {"social_media.photo": False})
    screenshot(phone_page, "year-walk-withdrawn-one-channel.png")
    assert not _consents(live_server, ids["Daan"], "social_media.photo")
    assert _consents(live_server, ids["Daan"], "website.photo")
    assert _approvals(live_server, seeded["photo_id"]) == {"website": "approved", "social_media": "approved"}
    pr_email = seeded["pr_email"]
    _deliver(live_server)
    assert "Instagram @hetjaar" in _text(_received(mail, pr_email, 1)[0])  # PR is mailed, too
    pr_ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900},
                                 locale="nl-NL")
    try:
        pr = pr_ctx.new_page()
        login(pr, pr_email)
        pr.goto("/")
        assert pr.locator(".nav-count[data-endpoint='publish.takedowns']").inner_text() == "1"
        pr.click(".nav-count[data-endpoint='publish.takedowns']")
        pr.wait_for_url("**/publish/takedowns")
        rows = pr.locator("#open-takedowns tr.takedown")
        assert rows.count() == 1 and "Daan Walker" in rows.first.inner_text()
        rows.first.locator("textarea[name=note]").fill("Bericht van Instagram verwijderd")
        rows.first.locator("button").click()
        pr.wait_for_load_state("networkidle")
        assert pr.locator("#open-takedowns tr.takedown").count() == 0
        assert pr.locator(".nav-count").count() == 0
    finally:
        pr_ctx.close()
    with live_server.app.app_context():
        task = db.session.scalar(select(TakedownTask).where(TakedownTask.school_id == school_id))
        assert task.done_at is not None and task.publication_id == seeded["publication_id"]
        db.session.remove()
    # The website approval of the same photo stays: only social media was withdrawn.
    assert _approvals(live_server, seeded["photo_id"]) == {"website": "approved", "social_media": "approved"}
    assert _consents(live_server, ids["Daan"], "website.photo")

    # --- 6. Sem turns 16 today (school time): his own link, his own answer ------------------------------
    with live_server.app.app_context():
        db.session.get(Person, ids["Sem"]).date_of_birth = _years_before(local_date(utcnow()), 16)
        db.session.commit()
        db.session.remove()
    totals = _worker_day(live_server, utcnow())
    assert totals["own_links"] == 1
    own = _received(mail, sem_email, 1)[0]
    own_link = _link(live_server, own)
    assert own_link != first_links["Sem"]
    assert "Dear" not in _text(own)
    student = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900},
                                  locale="nl-NL")
    try:
        page = student.new_page()
        _answer(page, own_link, {"website.photo": True, "social_media.photo": False, "newsletter.photo": True})
        assert page.locator("html").get_attribute("lang") == "nl"
    finally:
        student.close()
    assert _consents(live_server, ids["Sem"], "website.photo")
    assert not _consents(live_server, ids["Sem"], "social_media.photo")
    with live_server.app.app_context():
        record = db.session.scalars(select(ConsentRecord).where(ConsentRecord.person_id == ids["Sem"])
                                    .order_by(ConsentRecord.id.desc())).first()
        assert record.signer_kind == "self" and record.signer_guardian_id is None  # Sem signed himself
        db.session.remove()
    # The guardian's link from the first mail no longer shows Sem's choices.
    response = phone_page.goto(first_links["Sem"])
    assert response.status == 403
    assert phone_page.locator("#student-decides").is_visible()
    assert phone_page.locator("#consent-form").count() == 0
    assert phone_page.locator("input[type=radio]").count() == 0
    screenshot(phone_page, "year-walk-guardian-after-16.png")
