"""A video through the product in a real browser: upload, tracks, review, preview, publish, check.

A clip is composed of two real people (tests/data/faces) with sound and
revealing metadata. Obama may appear in website videos; Biden has consent
for website PHOTOS only. The PR officer uploads it, confirms both tracks
(one with the keyboard), asks to keep the sound, watches the redacted
preview in the page's player, approves and publishes for the website, and
downloads the published file. The file is judged on its own: Biden's face
is not recognised by the project's matcher in any frame, Obama's is, the
sound is dropped (Biden may not be in the video), no metadata is left.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.faces.matching import MatchThresholds
from tests.e2e.conftest import LiveServer, login, make_user, screenshot
from tests.e2e.test_full_flow import _query, _wait_processed
from tests.jobs.video_helpers import (
    FACES,
    frame_distances,
    leaked_metadata,
    make_clip,
    portrait_encoding,
    streams_and_metadata,
)


def _seed(live: LiveServer) -> dict[str, Any]:
    from consentflow.consent.service import record_consent
    from consentflow.consent.years import create_form_version, ensure_school_year
    from consentflow.extensions import db
    from consentflow.faces.engine import EngineSettings
    from consentflow.models import Person, School, utcnow
    from consentflow.photos.crypto import cipher_from_config
    from consentflow.photos.enrol import enrol_portrait

    with live.app.app_context():
        actor = Actor.system("e2e")
        now = utcnow()
        n = db.session.query(School).count() + 1
        school = School(name="Het Film College", slug=f"film-{n}", biometric_mode="all")
        db.session.add(school)
        db.session.flush()
        year = ensure_school_year(db.session, actor=actor, school_id=school.id, on=now.date(),
                                  now=now)
        form = create_form_version(db.session, actor=actor, school_id=school.id,
                                   school_year_id=year.id, title="Media consent",
                                   now=now - timedelta(days=2), purposes=None,
                                   wording="Photos and videos of school activities.")
        people = {}
        granted = {"Obama": {"website.photo", "website.video", "face_matching"},
                   "Biden": {"website.photo", "face_matching"}}  # no video
        for first, last, portrait in (("Barack", "Obama", "obama2.jpg"),
                                      ("Joe", "Biden", "biden.jpg")):
            person = Person(school_id=school.id, kind="staff", external_id=f"V{n}{last[:3]}",
                            first_name=first, last_name=last, group_name="team",
                            date_of_birth=date(1960, 3, 1))
            db.session.add(person)
            db.session.flush()
            record_consent(
                db.session, actor=actor, person_id=person.id, school_year_id=year.id,
                form_id=form.id, decisions={p: p in granted[last] for p in form.purposes},
                signer_kind="self", signer_guardian_id=None, signer_name=None,
                method="in_person", signed_at=now - timedelta(days=1), evidence=None,
                evidence_filename=None, storage_dir=live.app.config["STORAGE_DIR"], now=now)
            enrol_portrait(db.session, cipher_from_config(live.app.config), actor, school, person,
                           (FACES / portrait).read_bytes(), settings=EngineSettings(),
                           today=now.date(), now=now)
            people[last] = person.id
        db.session.commit()
        return {"school_id": school.id, **people}


def test_video_upload_review_preview_publish_and_the_published_file(
        live_server: LiveServer, browser: Any, tmp_path: Path) -> None:
    from consentflow.jobs import get_queue
    from consentflow.models import Album, Face, Publication

    seed = _seed(live_server)
    clip = tmp_path / "musical.mp4"
    make_clip(clip)
    queue = get_queue(live_server.app)
    was_immediate = queue.huey.immediate
    queue.huey.immediate = False  # this test's thread is the worker
    ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 1000},
                              accept_downloads=True)
    try:
        pr = ctx.new_page()
        login(pr, make_user(live_server, seed["school_id"], "pr"))
        pr.goto("/?lang=en")
        # --- upload through the web form ------------------------------------------------------
        pr.goto("/photos/albums/new")
        pr.fill("input[name=title]", "Musical")
        pr.fill("input[name=event_date]", date.today().isoformat())
        pr.check("input[name=purposes][value=website]")
        pr.click("form button.primary")
        pr.wait_for_url("**/upload")
        pr.set_input_files("#files", [str(clip)])
        album_id = _query(live_server, lambda s: s.scalar(
            select(Album.id).where(Album.school_id == seed["school_id"])))
        pr.wait_for_function("document.body.innerText.includes('musical.mp4')")
        videos = _wait_processed(live_server, album_id, 1, queue)
        video_id, state = videos["musical.mp4"]
        assert state == "needs_review"
        faces = _query(live_server, lambda s: {f.matched_person_id: f.id for f in s.scalars(
            select(Face).where(Face.photo_id == video_id))})
        assert set(faces) == {seed["Obama"], seed["Biden"]}  # one track each, matched

        # --- review the tracks: one with the keyboard, one with its button -------------------
        pr.goto(f"/review/photo/{video_id}?channel=website")
        tiles = pr.locator("#face-grid .tile")
        assert tiles.count() == 2
        assert pr.locator("#face-grid .tile .when").count() == 2
        assert "0:00.0" in pr.locator("#face-grid").inner_text()
        assert pr.locator(".tile.shown").count() == 0  # nothing shown before a human looked
        obama, biden = faces[seed["Obama"]], faces[seed["Biden"]]
        pr.locator(f"#face-{obama}").focus()
        pr.keyboard.press("1")  # confirm the suggestion
        pr.wait_for_selector(f"#face-{obama}.shown")
        pr.locator(f"#face-{biden} [data-key='1']").click()
        pr.wait_for_selector(f"#face-{biden}.blur-consent")
        pr.goto(f"/review/photo/{video_id}?channel=website")
        # Keep the sound: the rule still drops it, because Biden may not be in this video.
        pr.check("#audio-website input[name=keep_audio]")
        pr.click("[data-audio=website]")
        pr.wait_for_load_state("networkidle")
        assert pr.locator("#audio-website .audio-outcome").get_attribute("data-audio-kept") == "0"
        assert pr.locator("#audio-website input[name=keep_audio]").is_checked()

        # --- the redacted preview, rendered by the worker, plays in the page ------------------
        pr.click("#make-preview")
        pr.wait_for_selector("#preview-progress")
        queue.run_pending()
        pr.wait_for_selector("#video-preview")  # publish.js reloads when the preview is ready
        playable = pr.evaluate("""() => new Promise((resolve) => {
            const v = document.getElementById('video-preview');
            if (v.readyState >= 2) { resolve(v.videoWidth); return; }
            v.addEventListener('loadeddata', () => resolve(v.videoWidth));
            v.addEventListener('error', () => resolve(-1));
            v.load();
        })""")
        assert playable == 640
        screenshot(pr, "review-video.png")

        # --- approve and publish for the website ----------------------------------------------
        pr.click("[data-approve=website]")
        pr.wait_for_load_state("networkidle")
        pr.click("[data-publish=website]")
        pr.wait_for_selector(".publish-progress")
        queue.run_pending()
        pr.wait_for_selector("#purpose-website a[href*='/publish/publication/']")
        pr.click("#purpose-website a[href*='/publish/publication/']")
        pr.wait_for_url("**/publish/publication/*")
        snapshot = pr.locator("#snapshot").inner_text()
        rows = {line.split("\t")[0]: line for line in snapshot.splitlines()}
        assert "vervaagd: geen toestemming" in rows["Joe Biden"], snapshot  # decisions in words
        assert "zichtbaar" in rows["Barack Obama"], snapshot
        assert "blur_no_consent" not in snapshot
        assert pr.locator("#published-audio").get_attribute("data-audio-kept") == "0"
        with pr.expect_download() as download:
            pr.click("#download")
        published = tmp_path / "published.mp4"
        download.value.save_as(published)
        assert download.value.suggested_filename.endswith(".mp4")
    finally:
        queue.huey.immediate = was_immediate
        ctx.close()

    # --- the published file, judged on its own ------------------------------------------------
    publication = _query(live_server, lambda s: s.scalar(
        select(Publication).where(Publication.photo_id == video_id)))
    assert publication.video_snapshot["audio"]["requested"] is True
    assert publication.video_snapshot["audio"]["kept"] is False
    kinds, meta = streams_and_metadata(published)
    assert kinds == ["video"]  # sound dropped as decided
    assert leaked_metadata(meta) == []
    loose = MatchThresholds.defaults().loose
    biden_distances = frame_distances(published, portrait_encoding("biden.jpg"))
    assert len(biden_distances) == 25
    assert min(biden_distances) > loose, biden_distances  # blurred in every frame
    obama_distances = frame_distances(published, portrait_encoding("obama2.jpg"))
    assert sum(d < loose for d in obama_distances) >= 20, obama_distances  # visible
