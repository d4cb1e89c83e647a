"""Review pages over HTTP: rendering, decisions, optimistic locking, school scoping."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import numpy as np
from PIL import Image, ImageOps
from sqlalchemy import select

from consentflow.faces.engine import EngineSettings, detect_faces, encode_faces, prepare_image
from consentflow.faces.matching import MatchThresholds, ReferenceIndex
from consentflow.models import Face, FaceReview, Photo
from tests import factories
from tests.conftest import Auth
from tests.services.test_publish_support import (
    APPROVED_AT,
    BIDEN_BOX,
    FACES,
    OBAMA_BOX,
    build_world,
    confirm_both,
    consent,
)

VERSION_RE = re.compile(r'name="version" value="(\d+)"')


def _version(html: str) -> int:
    match = VERSION_RE.search(html)
    assert match, "no version on the page"
    return int(match.group(1))


def _decide(client, face_id, kind, version, csrf, **extra):
    data = {"kind": kind, "version": version, "csrf_token": csrf, **extra}
    return client.post(f"/review/face/{face_id}/decide", data=data, follow_redirects=True)


def test_photo_page_shows_every_face_coloured_by_decision(app, client, auth, db_session):
    w = build_world(db_session, app)
    consent(db_session, w, w.obama, {"website.photo", "social_media.photo"},
            at=APPROVED_AT - timedelta(days=3))
    db_session.commit()
    auth.as_role(db_session, "pr", school=w.school)
    html = client.get(f"/review/photo/{w.photo.id}").get_data(as_text=True)
    # Both faces boxed; before any confirmation nobody is shown.
    assert html.count('class="facebox ') == 2
    assert "facebox shown" not in html
    assert "Barack Obama" in html and "0.35" in html  # suggestion with its distance
    csrf = auth.csrf(f"/review/photo/{w.photo.id}")
    response = _decide(client, w.obama_face.id, "confirm", _version(html), csrf)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.count("facebox shown") == 1
    assert "facebox blur-consent" in page  # Biden: matched, no consent record
    assert "review.js" in page
    # Images for the reviewer are real JPEGs without metadata.
    for url in (f"/review/photo/{w.photo.id}/image", f"/review/face/{w.obama_face.id}/crop",
                f"/review/photo/{w.photo.id}/preview/website"):
        got = client.get(url)
        assert got.status_code == 200 and got.mimetype == "image/jpeg", url
        assert not Image.open(io.BytesIO(got.data)).getexif()


def test_second_reviewer_gets_a_clear_conflict(app, auth, db_session):
    w = build_world(db_session, app)
    db_session.commit()
    first, second = app.test_client(), app.test_client()
    Auth(first).as_role(db_session, "pr", school=w.school)
    Auth(second).as_role(db_session, "pr", school=w.school)
    page_a = first.get(f"/review/photo/{w.photo.id}").get_data(as_text=True)
    page_b = second.get(f"/review/photo/{w.photo.id}").get_data(as_text=True)
    seen = _version(page_a)
    assert _version(page_b) == seen

    ok = _decide(first, w.biden_face.id, "confirm", seen, Auth(first).csrf("/review/"))
    assert "Saved." in ok.get_data(as_text=True)
    late = _decide(second, w.biden_face.id, "not_face", seen, Auth(second).csrf("/review/"))
    text = late.get_data(as_text=True)

    assert "Someone else changed this photo" in text
    db_session.expire_all()
    reviews = db_session.scalars(select(FaceReview).where(
        FaceReview.face_id == w.biden_face.id)).all()
    assert [r.kind for r in reviews] == ["confirm"]  # the first reviewer's decision stands


def test_assign_with_search_and_one_person_once_per_photo(app, client, auth, db_session):
    w = build_world(db_session, app)
    db_session.commit()
    auth.as_role(db_session, "pr", school=w.school)
    html = client.get(f"/review/photo/{w.photo.id}?face={w.biden_face.id}&q=obama").get_data(as_text=True)
    assert "Barack Obama" in html
    csrf = auth.csrf(f"/review/photo/{w.photo.id}")
    _decide(client, w.obama_face.id, "confirm", _version(html), csrf)
    version = db_session.get(Photo, w.photo.id).version
    again = _decide(client, w.biden_face.id, "assign", version, csrf, person_id=w.obama.id)
    assert "already assigned to another face" in again.get_data(as_text=True)


def test_drawn_face_and_external_adult_note(app, client, auth, db_session):
    w = build_world(db_session, app)
    db_session.commit()
    auth.as_role(db_session, "pr", school=w.school)
    html = client.get(f"/review/photo/{w.photo.id}").get_data(as_text=True)
    csrf = auth.csrf(f"/review/photo/{w.photo.id}")
    response = client.post(f"/review/photo/{w.photo.id}/draw", follow_redirects=True, data={
        "left": 500, "top": 300, "right": 560, "bottom": 370, "version": _version(html),
        "csrf_token": csrf})
    assert response.status_code == 200
    drawn = db_session.scalar(select(Face).where(Face.photo_id == w.photo.id,
                                                 Face.source == "reviewer"))
    assert drawn is not None and (drawn.left, drawn.bottom) == (500, 370)
    page = response.get_data(as_text=True)
    no_note = _decide(client, w.biden_face.id, "external_adult", _version(page), csrf, note="")
    assert "A note is required" in no_note.get_data(as_text=True)


def test_other_schools_photo_is_not_found(app, client, auth, db_session):
    w = build_world(db_session, app)
    mine = factories.school(db_session)
    db_session.commit()
    auth.as_role(db_session, "pr", school=mine)
    assert client.get(f"/review/photo/{w.photo.id}").status_code == 404
    assert client.get(f"/review/face/{w.obama_face.id}/crop").status_code == 404
    csrf = auth.csrf("/review/")
    assert client.post(f"/review/face/{w.obama_face.id}/decide", data={
        "kind": "confirm", "version": 1, "csrf_token": csrf}).status_code == 404


def test_album_queue_and_face_queue(app, client, auth, db_session):
    w = build_world(db_session, app)
    db_session.commit()
    auth.as_role(db_session, "pr", school=w.school)
    assert w.album.title in client.get("/review/").get_data(as_text=True)
    album = client.get(f"/review/album/{w.album.id}").get_data(as_text=True)
    assert f"/review/photo/{w.photo.id}" in album
    queue = client.get(f"/review/album/{w.album.id}/faces").get_data(as_text=True)
    assert queue.count('class="crop-card face-card"') == 2


def _recognised(image: Image.Image, people: dict[int, str]) -> set[int]:
    """Whom our own engine recognises in ``image`` (person id -> reference portrait)."""
    settings = EngineSettings()
    refs = []
    for name, file in people.items():
        prepared = prepare_image(FACES / file, settings.max_side)
        (face,) = detect_faces(prepared, settings)
        refs.append((name, encode_faces(prepared, [face], settings)[0]))
    index = ReferenceIndex(refs)
    prepared = prepare_image(image, settings.max_side)
    found = set()
    for encoding in encode_faces(prepared, detect_faces(prepared, settings), settings):
        best = index.match(encoding, top_k=1)
        if best and best[0].distance < MatchThresholds.defaults().loose:
            found.add(best[0].person_id)
    return found


def _region_change(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Mean absolute pixel difference of two same-size images inside ``box``."""
    crop_a = np.asarray(a.convert("RGB").crop(box), dtype=np.float64)
    crop_b = np.asarray(b.convert("RGB").crop(box), dtype=np.float64)
    return float(np.abs(crop_a - crop_b).mean())


def test_the_redacted_preview_hides_exactly_the_face_without_consent(app, client, auth, db_session):
    """Obama consented to the website, Biden did not: the preview blurs Biden's face so
    that our own matcher no longer recognises him, and leaves Obama's face alone."""
    w = build_world(db_session, app)
    consent(db_session, w, w.obama, {"website.photo"}, at=APPROVED_AT - timedelta(days=10))
    confirm_both(db_session, w)
    db_session.commit()
    auth.as_role(db_session, "pr", school=w.school)
    got = client.get(f"/review/photo/{w.photo.id}/preview/website")
    assert got.status_code == 200 and got.mimetype == "image/jpeg"
    preview = Image.open(io.BytesIO(got.data))
    original = ImageOps.exif_transpose(Image.open(FACES / "two_people.jpg"))
    assert preview.size == original.size
    # Control first: in the original both are recognised, so the check below can fail.
    portraits = {w.obama.id: "obama.jpg", w.biden.id: "biden.jpg"}
    assert _recognised(original, portraits) == {w.obama.id, w.biden.id}
    assert _recognised(preview, portraits) == {w.obama.id}
    assert _region_change(original, preview, BIDEN_BOX) > 20  # blurred, not re-encoded
    assert _region_change(original, preview, OBAMA_BOX) < 8  # only JPEG re-encoding
