"""The whole promise in a real browser: upload, process, review, publish, withdraw, takedown.

A teacher uploads real photos; the queue runs in-process (QUEUE_IMMEDIATE) with
the real face engine; a PR officer confirms one face with the keyboard,
corrects another through the person search, approves and publishes for
social media; a guardian withdraws through the consent link on a phone; the
takedown task appears on the PR dashboard.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from consentflow.audit.service import Actor
from tests.e2e.conftest import LiveServer, login, make_user, screenshot

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
UPLOADS = ("two_people.jpg", "obama2.jpg", "dogs.jpg")


def _seed(live: LiveServer) -> dict[str, Any]:
    from consentflow.consent.links import make_token
    from consentflow.consent.rounds import LinkContext, open_round
    from consentflow.consent.service import record_consent
    from consentflow.consent.years import create_form_version, ensure_school_year
    from consentflow.extensions import db
    from consentflow.faces.engine import EngineSettings
    from consentflow.models import ConsentLink, Guardian, Person, School, utcnow
    from consentflow.photos.crypto import cipher_from_config
    from consentflow.photos.enrol import enrol_portrait

    with live.app.app_context():
        actor = Actor.system("e2e")
        now = utcnow()
        n = db.session.query(School).count() + 1
        school = School(name="Het Flow College", slug=f"flow-{n}", biometric_mode="all")
        db.session.add(school)
        db.session.flush()
        people = {}
        for first, last in (("Barack", "Obama"), ("Joe", "Biden")):
            person = Person(school_id=school.id, kind="student", external_id=f"F{n}{last[:3]}",
                            first_name=first, last_name=last, group_name="2B",
                            date_of_birth=date(now.year - 13, 3, 1))
            guardian = Guardian(school_id=school.id, name=f"Parent of {first}",
                                email=f"{first.lower()}.parent{n}@example.org")
            person.guardians.append(guardian)
            db.session.add_all([person, guardian])
            db.session.flush()
            people[last] = (person, guardian)
        year = ensure_school_year(db.session, actor=actor, school_id=school.id, on=now.date(), now=now)
        form = create_form_version(db.session, actor=actor, school_id=school.id,
                                   school_year_id=year.id, title="Media consent",
                                   now=now - timedelta(days=2),  # before the guardians signed it
                                   purposes=None, wording="Photos of school activities.")
        obama, obama_guardian = people["Obama"]
        record_consent(
            db.session, actor=actor, person_id=obama.id, school_year_id=year.id, form_id=form.id,
            decisions={p: p in ("social_media.photo", "website.photo", "face_matching")
                       for p in form.purposes},
            signer_kind="guardian", signer_guardian_id=obama_guardian.id, signer_name=None,
            method="in_person", signed_at=now - timedelta(days=1), evidence=None,
            evidence_filename=None, storage_dir=live.app.config["STORAGE_DIR"], now=now)
        cipher = cipher_from_config(live.app.config)
        for last, portrait in (("Obama", "obama.jpg"), ("Biden", "biden.jpg")):
            enrol_portrait(db.session, cipher, actor, school, people[last][0],
                           (FACES / portrait).read_bytes(), settings=EngineSettings(),
                           today=now.date(), now=now)
        open_round(db.session, actor=actor, school_id=school.id, school_year_id=year.id,
                   form_id=form.id,
                   ctx=LinkContext(live.url, live.app.config["SECRET_KEY"]), now=now)
        db.session.commit()
        link = db.session.scalar(select(ConsentLink).where(
            ConsentLink.person_id == obama.id, ConsentLink.guardian_id == obama_guardian.id))
        return {"school_id": school.id, "obama": obama.id, "biden": people["Biden"][0].id,
                "token": make_token(live.app.config["SECRET_KEY"], link.nonce)}


def _query(live: LiveServer, fn: Any) -> Any:
    from consentflow.extensions import db

    with live.app.app_context():
        try:
            return fn(db.session)
        finally:
            db.session.remove()


def _wait_processed(live: LiveServer, album_id: int, count: int, queue: Any,
                    timeout: float = 180.0) -> dict[str, Any]:
    """Run the worker in-process until every uploaded photo of the album is processed."""
    from consentflow.models import Photo

    deadline = time.monotonic() + timeout
    while True:
        queue.run_pending()
        photos = _query(live, lambda s: {p.original_filename: (p.id, p.state) for p in s.scalars(
            select(Photo).where(Photo.album_id == album_id))})
        if len(photos) == count and all(st not in ("uploaded", "processing") for _, st in photos.values()):
            return photos
        assert time.monotonic() < deadline, f"photos not processed: {photos}"
        time.sleep(0.5)


def test_upload_review_publish_withdraw_takedown(live_server: LiveServer, browser: Any,
                                                 phone_page: Any) -> None:
    from consentflow.jobs import get_queue
    from consentflow.models import Album, Face, Publication, TakedownTask

    seed = _seed(live_server)
    # The worker is this test's thread: uploads only enqueue (as in production, where the
    # web request never runs face detection), and the queue is drained here.
    queue = get_queue(live_server.app)
    was_immediate = queue.huey.immediate
    queue.huey.immediate = False
    teacher_ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    pr_ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 1000})
    try:
        # --- the teacher creates an album and uploads real photos --------------------------
        teacher = teacher_ctx.new_page()
        login(teacher, make_user(live_server, seed["school_id"], "teacher"))
        teacher.goto("/?lang=en")
        teacher.goto("/photos/albums/new")
        teacher.fill("input[name=title]", "Sports day")
        teacher.fill("input[name=event_date]", date.today().isoformat())
        teacher.fill("input[name=maker]", "J. Fotograaf")
        teacher.check("input[name=purposes][value=social_media]")
        teacher.check("input[name=purposes][value=website]")
        teacher.click("form button.primary")
        teacher.wait_for_url("**/upload")
        teacher.set_input_files("#files", [str(FACES / name) for name in UPLOADS])
        album_id = _query(live_server, lambda s: s.scalar(
            select(Album.id).where(Album.school_id == seed["school_id"])))
        photos = _wait_processed(live_server, album_id, len(UPLOADS), queue)
        assert all(state == "needs_review" for _, state in photos.values()), photos
        photo_id = photos["two_people.jpg"][0]
        faces = _query(live_server, lambda s: {f.matched_person_id: f.id for f in s.scalars(
            select(Face).where(Face.photo_id == photo_id))})
        assert {seed["obama"], seed["biden"]} <= set(faces), faces  # the matcher suggests both
        # A teacher never reaches the review.
        assert teacher.goto(f"/review/photo/{photo_id}").status == 403

        # --- the PR officer reviews with the keyboard and one correction ---------------------
        pr = pr_ctx.new_page()
        login(pr, make_user(live_server, seed["school_id"], "pr"))
        pr.goto("/?lang=en")
        pr.goto(f"/review/album/{album_id}")
        assert pr.locator("#start-review").is_visible()
        pr.goto(f"/review/photo/{photo_id}?channel=social_media")
        assert pr.locator(".facebox").count() == 2
        assert pr.locator(".facebox.shown").count() == 0  # nothing shown before a human looked
        pr.click(f".facebox[data-face='{faces[seed['obama']]}']")
        with pr.expect_navigation():
            pr.keyboard.press("1")  # confirm the suggested person
        assert pr.locator(f".facebox.shown[data-face='{faces[seed['obama']]}']").count() == 1
        # Correction: the right face is assigned by searching the school's people.
        pr.click(f".facebox[data-face='{faces[seed['biden']]}']")
        pr.keyboard.press("5")
        pr.keyboard.type("Biden")
        # The live search assigns without a page reload.
        pr.click("#live-results button:has-text('Joe Biden')")
        pr.wait_for_selector(f".facebox.blur-consent[data-face='{faces[seed['biden']]}']")
        screenshot(pr, "review-photo.png")

        # Keyboard navigation: j/k go to the next/previous photo of the album. Parallel
        # uploads give the photos their ids in any order, so use whichever neighbour exists.
        key = "j" if pr.locator("#nav-next").count() else "k"
        assert pr.locator("#nav-next, #nav-prev").count() >= 1
        with pr.expect_navigation():
            pr.keyboard.press(key)
        assert f"/review/photo/{photo_id}" not in pr.url
        pr.goto(f"/review/album/{album_id}/faces")
        screenshot(pr, "review-face-queue.png")

        # --- approve and publish for social media --------------------------------------------
        pr.goto(f"/review/photo/{photo_id}?channel=social_media")
        pr.click("[data-approve=social_media]")
        pr.wait_for_load_state("networkidle")
        pr.fill("#purpose-social_media input[name=channel_note]", "Instagram @flowcollege")
        pr.click("[data-publish=social_media]")
        # The request only enqueues; this test's thread is the worker, the page polls.
        pr.wait_for_selector(".publish-progress")
        queue.run_pending()
        pr.wait_for_selector("#purpose-social_media a[href*='/publish/publication/']")
        pr.click("#purpose-social_media a[href*='/publish/publication/']")
        pr.wait_for_url("**/publish/publication/*")
        snapshot = pr.locator("#snapshot").inner_text()
        # Decisions in words, never the stored code.
        assert "Barack Obama" in snapshot and "vervaagd: geen toestemming" in snapshot
        assert "blur_no_consent" not in snapshot
        publication = _query(live_server, lambda s: s.scalar(select(Publication)
                                                              .where(Publication.photo_id == photo_id)))
        assert publication.purpose == "social_media" and publication.maker_credit == "J. Fotograaf"

        # --- the guardian withdraws on a phone ------------------------------------------------
        phone_page.goto(f"/c/{seed['token']}?lang=en")
        phone_page.click("#withdraw")
        phone_page.wait_for_url("**/done?withdrawn=1")

        # --- the takedown is on the PR dashboard ----------------------------------------------
        tasks = _query(live_server, lambda s: [(t.publication_id, t.person_id) for t in s.scalars(
            select(TakedownTask))])
        assert tasks == [(publication.id, seed["obama"])]
        # PR sees it without looking for it: a count in the menu, and the publication says so.
        pr.goto("/")
        assert pr.locator(".nav-count[data-endpoint='publish.takedowns']").inner_text() == "1"
        pr.goto(f"/publish/publication/{publication.id}")
        assert pr.locator("#publication-state").inner_text() == "Verwijdering in behandeling"
        assert pr.locator("#download").count() == 0
        pr.goto("/publish/takedowns")
        rows = pr.locator("#open-takedowns tr.takedown")
        assert rows.count() == 1
        assert "Instagram @flowcollege" in rows.first.inner_text()
        assert "Barack Obama" in rows.first.inner_text()
        screenshot(pr, "takedowns-list.png")
        rows.first.locator("textarea[name=note]").fill("Post removed from Instagram")
        rows.first.locator("button").click()
        pr.wait_for_load_state("networkidle")
        assert pr.locator("#open-takedowns tr.takedown").count() == 0
        screenshot(pr, "takedowns-done.png")
        assert pr.locator(".nav-count").count() == 0
        pr.goto(f"/publish/publication/{publication.id}")
        assert pr.locator("#publication-state").inner_text() == "Verwijderd"
    finally:
        queue.huey.immediate = was_immediate
        teacher_ctx.close()
        pr_ctx.close()
