"""Group publication in a real browser, with the worker in a background thread.

1. bald_guys.jpg: one consenting person shown among 26 blurred look-alike
   faces; the PR officer approves and publishes, the page shows progress and
   then the publication.
2. two_people.jpg with a box drawn too small around Biden: publication is
   refused, the face is highlighted on the photo with its remedies, "blur a
   larger area" clears it and the photo is published.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.conftest import LiveServer, login, make_user, screenshot

SOCIAL = "social_media"


@pytest.fixture
def worker(live_server: LiveServer) -> Iterator[Any]:
    """A background worker draining the queue, as in production (requests only enqueue)."""
    from consentflow.jobs import get_queue

    queue = get_queue(live_server.app)
    was_immediate = queue.huey.immediate
    queue.huey.immediate = False
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            queue.run_pending()
            time.sleep(0.3)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield queue
    finally:
        stop.set()
        thread.join(timeout=120)
        queue.huey.immediate = was_immediate


def _seed(live: LiveServer, photo_name: str) -> dict[str, Any]:
    from consentflow.extensions import db
    from consentflow.faces.engine import EngineSettings, detect_faces, prepare_image
    from consentflow.models import utcnow
    from consentflow.photos.boxes import Box
    from consentflow.review.service import draw_face, record_review
    from tests.services.test_publish_support import (
        FACES,
        add_face,
        add_photo,
        build_world,
        consent,
    )

    with live.app.app_context():
        now = utcnow()
        w = build_world(db.session, live.app)
        w.year.starts_on = (now - timedelta(days=30)).date()
        w.year.ends_on = (now + timedelta(days=300)).date()
        consent(db.session, w, w.obama, {"social_media.photo"}, at=now - timedelta(days=2))
        if photo_name == "bald_guys.jpg":
            w.photo = add_photo(db.session, w, photo_name)
            settings = EngineSettings()
            found = detect_faces(prepare_image(FACES / photo_name, settings.max_side), settings)
            faces = [add_face(db.session, w.photo, (f.left, f.top, f.right, f.bottom)) for f in found]
            shown = faces[26 if len(faces) > 26 else -1]
            record_review(db.session, actor=w.actor, school_id=w.school.id, face_id=shown.id,
                          kind="assign", person_id=w.obama.id, expected_version=None, now=now)
            n_faces = len(faces)
        else:
            db.session.delete(w.biden_face)
            db.session.flush()
            record_review(db.session, actor=w.actor, school_id=w.school.id,
                          face_id=w.obama_face.id, kind="confirm", expected_version=None, now=now)
            shown = draw_face(db.session, actor=w.actor, school_id=w.school.id,
                              photo_id=w.photo.id, box=Box(830, 190, 910, 269), person_id=None,
                              expected_version=None, now=now)
            n_faces = 2
        db.session.commit()
        return {"school_id": w.school.id, "photo_id": w.photo.id, "faces": n_faces,
                "face_id": shown.id}


def _publications(live: LiveServer, photo_id: int) -> list[Any]:
    from consentflow.extensions import db
    from consentflow.models import Publication

    with live.app.app_context():
        try:
            return list(db.session.scalars(select(Publication).where(Publication.photo_id == photo_id)))
        finally:
            db.session.remove()


def _approve_and_publish(page: Any) -> None:
    page.click(f"[data-approve={SOCIAL}]")
    page.wait_for_load_state("networkidle")
    page.click(f"[data-publish={SOCIAL}]")
    page.wait_for_load_state("domcontentloaded")


def test_group_photo_with_one_shown_face_publishes_in_the_background(
        live_server: LiveServer, browser_page: Any, worker: Any) -> None:
    seed = _seed(live_server, "bald_guys.jpg")
    assert seed["faces"] >= 20
    page = browser_page
    login(page, make_user(live_server, seed["school_id"], "pr"))
    page.goto(f"/review/photo/{seed['photo_id']}?channel={SOCIAL}")
    _approve_and_publish(page)
    # The request only enqueued: the page polls the worker's progress, then reloads.
    page.wait_for_selector(f"#purpose-{SOCIAL} a[href*='/publish/publication/']", timeout=180_000)
    screenshot(page, "publish-group-done.png")
    (publication,) = _publications(live_server, seed["photo_id"])
    decisions = [e["decision"] for e in publication.snapshot]
    assert decisions.count("show") == 1
    assert len(decisions) - decisions.count("show") >= 20
    assert page.locator(".refusal").count() == 0


def test_refused_face_is_highlighted_and_a_remedy_clears_it(
        live_server: LiveServer, browser_page: Any, worker: Any) -> None:
    seed = _seed(live_server, "two_people.jpg")
    page = browser_page
    login(page, make_user(live_server, seed["school_id"], "pr"))
    page.goto(f"/review/photo/{seed['photo_id']}?channel={SOCIAL}")
    _approve_and_publish(page)
    page.wait_for_selector(f"#refusal-{SOCIAL}", timeout=120_000)
    mark = page.locator(f".leakbox[data-leak-face='{seed['face_id']}']")
    assert mark.is_visible()
    item = page.locator(f"#refusal-{SOCIAL} li[data-leak='{seed['face_id']}']")
    assert "Gezicht 2" in item.inner_text()  # Dutch, and it says which face
    assert _publications(live_server, seed["photo_id"]) == []
    screenshot(page, "publish-refused.png")

    item.locator("[data-remedy=wide]").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".flash").count() == 1  # one message, not two
    _approve_and_publish(page)
    page.wait_for_selector(f"#purpose-{SOCIAL} a[href*='/publish/publication/']", timeout=120_000)
    assert page.locator(".leakbox").count() == 0
    (publication,) = _publications(live_server, seed["photo_id"])
    drawn = next(e for e in publication.snapshot if e["face_id"] == seed["face_id"])
    assert drawn["redaction"] == "wide"
