"""A group photo in a real browser: the face grid, keyboard multi-select, a bulk action, and
assigning an unknown face through the live search without a page reload.

The photo is dlib's bald_guys.jpg (24 people), processed by the real face engine.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.e2e.conftest import LiveServer, login, make_user, screenshot

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"


def _seed(live: LiveServer) -> dict[str, Any]:
    from consentflow.audit.service import Actor
    from consentflow.extensions import db
    from consentflow.models import Album, Face, Person, School, utcnow
    from consentflow.photos import service
    from consentflow.photos.storage import storage_from_config
    from consentflow.photos.tasks import process_photo

    with live.app.app_context():
        n = db.session.query(School).count() + 1
        school = School(name="Het Groeps College", slug=f"group-{n}", biometric_mode="off")
        db.session.add(school)
        db.session.flush()
        anna = Person(school_id=school.id, kind="student", external_id=f"G{n}001",
                      first_name="Anna", last_name="Zwanenburg", group_name="3C",
                      date_of_birth=date(2012, 4, 2))
        album = Album(school_id=school.id, title="Groepsfoto", event_date=date(2026, 10, 1),
                      purposes=["website"])
        db.session.add_all([anna, album])
        db.session.flush()
        [result] = service.upload_photos(
            db.session, storage_from_config(live.app.config), Actor.system("e2e"), album,
            [("bald_guys.jpg", (FACES / "bald_guys.jpg").read_bytes())], now=utcnow())
        db.session.commit()
        process_photo(result.photo_id)
        db.session.commit()
        faces = list(db.session.scalars(select(Face.id).where(Face.photo_id == result.photo_id)))
        seed = {"school_id": school.id, "photo_id": result.photo_id, "anna": anna.id,
                "faces": faces}
        db.session.remove()
        return seed


def _active_reviews(live: LiveServer, photo_id: int) -> list[tuple[int, str, int | None]]:
    from consentflow.extensions import db
    from consentflow.models import FaceReview

    with live.app.app_context():
        try:
            return [(r.face_id, r.kind, r.person_id) for r in db.session.scalars(
                select(FaceReview).where(FaceReview.photo_id == photo_id,
                                         FaceReview.revoked_at.is_(None)))]
        finally:
            db.session.remove()


def test_group_photo_grid_bulk_and_live_search(live_server: LiveServer, browser_page: Any) -> None:
    seed = _seed(live_server)
    assert len(seed["faces"]) >= 20  # a real group photo, found by the real detector
    page = browser_page
    login(page, make_user(live_server, seed["school_id"], "pr"))
    page.goto(f"/review/photo/{seed['photo_id']}")
    tiles = page.locator("#face-grid .tile")
    assert tiles.count() == len(seed["faces"])
    assert page.locator("#keys").is_visible()  # the keys are documented on the page

    # Keyboard: select the current face and the two after it; then one more with the mouse.
    first = tiles.nth(0).get_attribute("data-face")
    page.keyboard.press("x")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("x")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("x")
    tiles.nth(5).locator("input[name=face_ids]").check()
    assert page.locator("#bulk-count").inner_text() == "4"
    picked = {int(tiles.nth(i).get_attribute("data-face") or 0) for i in (0, 1, 2, 5)}

    with page.expect_navigation():
        page.keyboard.press("b")  # keep the selected unknown faces blurred
    assert sorted(_active_reviews(live_server, seed["photo_id"])) == sorted(
        (face_id, "not_person", None) for face_id in picked)
    assert page.locator(f"#face-{first}.tile.attention").count() == 0

    # Live search: assign an unknown face without reloading the page.
    target = page.locator("#face-grid .tile.attention").first.get_attribute("data-face")
    page.click(f"#face-{target} a.num")
    page.evaluate("window.__sameDocument = true")
    page.keyboard.press("5")
    page.keyboard.type("zwanen")
    page.click("#live-results button:has-text('Anna Zwanenburg')")
    page.wait_for_selector(f"#face-{target}.tile:not(.attention)")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert "Anna Zwanenburg" in page.locator(f"#face-{target}").inner_text()
    assert (int(target or 0), "assign", seed["anna"]) in _active_reviews(live_server,
                                                                         seed["photo_id"])
    # The version moved on: a further action from this page is not a conflict.
    page.locator(f"#face-{target} [data-key=u]").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".flash-error").count() == 0
    screenshot(page, "review-group.png")
