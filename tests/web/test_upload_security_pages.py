"""Upload and served images through the real web form and API (real files, real database).

Each probe finding: one bad file answers for itself and the rest of the batch
is kept; upload answers name only albums the uploader may open; every image
a page serves is pixels only, fits the whole photo and keeps 16-bit tones; a
row with an impossible size gets a clear answer, never a 500.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from consentflow.models import Photo
from consentflow.photos.derived import DISPLAY_SIDE, THUMB_SIDE, derived_key
from consentflow.photos.storage import storage_from_config
from tests import factories
from tests.jobs.photo_helpers import BAD, FACES, face_bytes
from tests.services.test_publish_support import add_face
from tests.web.test_api import _h, _token


def _multipart(files):
    # Encoded in memory: werkzeug's test client spools bodies over 500 KB to a
    # temporary file it never closes (an unraisable warning, an error here).
    boundary, body = encode_multipart(MultiDict(
        [("files", FileStorage(io.BytesIO(data), filename=name)) for name, data in files]))
    return body, f"multipart/form-data; boundary={boundary}"


def _web_upload(client, auth, album_id, files):
    token = auth.csrf(f"/photos/albums/{album_id}/upload")
    body, content_type = _multipart(files)
    return client.post(f"/photos/albums/{album_id}/upload", data=body,
                       content_type=content_type,
                       headers={"Accept": "application/json", "X-Requested-With": "fetch",
                                "X-CSRFToken": token})


def _api_upload(client, raw, album_id, files):
    body, content_type = _multipart(files)
    return client.post(f"/api/v1/albums/{album_id}/photos", headers=_h(raw), data=body,
                       content_type=content_type)

SECRETS = (b"SECRET-JPEG-COMMENT", b"SECRET-XMP-CREATOR", b"TestCam", b"Exif\x00\x00",
           b"ICC_PROFILE", b"http://ns.adobe.com/xap/1.0/")

BATCH = [
    ("first.jpg", "obama2.jpg"),
    ("text-orientation.jpg", "exif_text_orientation.jpg"),
    ("strip.png", "strip_1x79m.png"),
    ("zip-plus-one.jpg", "polyglot_zip_plus1.jpg"),
    ("zip-junk.jpg", "polyglot_zip_junk.jpg"),
    ("script-comment.jpg", "comment_script.jpg"),
    ("last.jpg", "biden.jpg"),
]
EXPECTED = [("accepted", ""), ("accepted", ""), ("rejected", "bad_dimensions"),
            ("rejected", "polyglot"), ("rejected", "polyglot"), ("rejected", "polyglot"),
            ("accepted", "")]


def _batch() -> list[tuple[str, bytes]]:
    return [(name, (FACES / source if (FACES / source).exists() else BAD / source).read_bytes())
            for name, source in BATCH]


def _check(results: list[dict]) -> None:
    assert [(r["status"], r["code"]) for r in results] == EXPECTED
    for result in results:
        if result["status"] == "rejected":
            assert result["message"] and result["code"] not in result["message"]


def test_a_batch_of_probe_files_through_the_web_form_loses_nothing(app, client, auth, db_session):
    teacher = auth.as_role(db_session, "teacher")
    album = factories.album(db_session, school=teacher.memberships[0].school, created_by=teacher)
    db_session.commit()
    response = _web_upload(client, auth, album.id, _batch())
    assert response.status_code == 200
    _check(response.get_json()["results"])
    assert len(db_session.scalars(select(Photo).where(Photo.album_id == album.id)).all()) == 3


def test_a_batch_of_probe_files_through_the_api_loses_nothing(app, client, db_session):
    school = factories.school(db_session)
    teacher = factories.user(db_session, school=school, roles=("teacher",))
    album = factories.album(db_session, school=school, created_by=teacher)
    raw = _token(db_session, teacher, school)
    response = _api_upload(client, raw, album.id, _batch())
    assert response.status_code == 200
    body = response.get_json()
    _check(body["results"])
    assert (body["accepted"], body["rejected"]) == (3, 4)


def test_the_rejection_reason_is_dutch_for_a_dutch_school(app, client, auth, db_session):
    teacher = auth.as_role(db_session, "teacher")
    album = factories.album(db_session, school=teacher.memberships[0].school, created_by=teacher)
    teacher.locale = "nl"
    db_session.commit()
    token = auth.csrf(f"/photos/albums/{album.id}/upload")
    response = client.post(
        f"/photos/albums/{album.id}/upload",
        data={"csrf_token": token,
              "files": [(io.BytesIO((BAD / "strip_1x79m.png").read_bytes()), "strip.png")]},
        content_type="multipart/form-data",
        headers={"Accept": "application/json", "X-Requested-With": "fetch"})
    [result] = response.get_json()["results"]
    assert result["code"] == "bad_dimensions"
    assert "afbeelding" in result["message"]


def test_upload_answers_name_only_albums_the_uploader_may_open(app, client, auth, db_session):
    school = factories.school(db_session)
    other = factories.user(db_session, school=school, roles=("teacher",))
    theirs = factories.album(db_session, school=school, created_by=other, title="Theirs")
    teacher = auth.as_role(db_session, "teacher", school=school)
    mine = factories.album(db_session, school=school, created_by=teacher, title="Mine")
    also_mine = factories.album(db_session, school=school, created_by=teacher, title="Mine too")
    db_session.commit()
    data = face_bytes("obama2.jpg")
    raw_other = _token(db_session, other, school)
    assert _api_upload(client, raw_other, theirs.id, [("a.jpg", data)]).status_code == 200
    [first] = _web_upload(client, auth, mine.id, [("a.jpg", data)]).get_json()["results"]
    assert first["status"] == "accepted" and first["also_in_albums"] == []
    assert first["message"] == ""
    [second] = _web_upload(client, auth, also_mine.id, [("a.jpg", data)]).get_json()["results"]
    assert second["also_in_albums"] == [mine.id]
    # The API answers the same for the other teacher: my albums are not theirs to know.
    fourth = factories.album(db_session, school=school, created_by=other, title="Theirs too")
    db_session.commit()
    [api] = _api_upload(client, raw_other, fourth.id, [("a.jpg", data)]).get_json()["results"]
    assert api["also_in_albums"] == [theirs.id]


def _pr_photo(client, auth, db_session, files):
    pr = auth.as_role(db_session, "pr")
    album = factories.album(db_session, school=pr.memberships[0].school, created_by=pr)
    db_session.commit()
    results = _web_upload(client, auth, album.id, files).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * len(files)
    return [db_session.get(Photo, r["photo_id"]) for r in results]


def _served(client, photo, face_id):
    return {
        "thumbnail": client.get(f"/photos/photo/{photo.id}/thumb"),
        "review image": client.get(f"/review/photo/{photo.id}/image"),
        "face crop": client.get(f"/review/face/{face_id}/crop"),
        "preview": client.get(f"/review/photo/{photo.id}/preview/website"),
    }


def test_no_served_image_keeps_any_metadata_of_the_original(app, client, auth, db_session):
    [photo] = _pr_photo(client, auth, db_session, [("meta.jpg",
                                                    (BAD / "metadata.jpg").read_bytes())])
    original = (BAD / "metadata.jpg").read_bytes()
    assert all(secret in original for secret in SECRETS)  # the original really carries them
    face = add_face(db_session, photo, (100, 60, 260, 260))
    db_session.commit()
    for name, response in _served(client, photo, face.id).items():
        assert response.status_code == 200, name
        data = response.get_data()
        for secret in SECRETS:
            assert secret not in data, f"{name} carries {secret!r}"
        with Image.open(io.BytesIO(data)) as image:
            assert not image.getexif(), name
            assert not {"comment", "icc_profile", "xmp", "exif"} & set(image.info), name


def test_served_images_fit_the_whole_photo_and_keep_16_bit_tones(app, client, auth, db_session):
    wide = Image.open(FACES / "two_people.jpg").convert("RGB")
    buf = io.BytesIO()
    wide.save(buf, format="JPEG", quality=90)
    grey16 = (BAD / "grey16.png").read_bytes()
    wide_photo, grey_photo = _pr_photo(client, auth, db_session,
                                       [("wide.jpg", buf.getvalue()), ("grey16.png", grey16)])
    with Image.open(io.BytesIO(client.get(f"/photos/photo/{wide_photo.id}/thumb").get_data())) as t:
        assert max(t.size) == THUMB_SIDE
        assert abs(t.width / t.height - wide.width / wide.height) < 0.01  # nothing cut off
    with Image.open(BAD / "grey16.png") as source:
        expected = float((np.asarray(source, dtype=np.int64) >> 8).mean())
    for url in (f"/photos/photo/{grey_photo.id}/thumb", f"/review/photo/{grey_photo.id}/image"):
        with Image.open(io.BytesIO(client.get(url).get_data())) as served:
            mean = float(np.asarray(served.convert("L")).mean())
        assert abs(mean - expected) < 8, (url, mean, expected)


def test_a_row_with_an_impossible_size_gets_a_clear_answer_not_a_500(app, client, auth,
                                                                     db_session):
    [photo] = _pr_photo(client, auth, db_session, [("ok.jpg", face_bytes("obama2.jpg"))])
    # As stored before the limits existed: the 1 x 79,000,000 px strip.
    strip = (BAD / "strip_1x79m.png").read_bytes()
    storage = storage_from_config(app.config)
    photo.storage_key = storage.put(strip)
    photo.media_type, photo.width, photo.height = "image/png", 1, 79_000_000
    face = add_face(db_session, photo, (0, 0, 1, 10))
    db_session.commit()
    for name, response in _served(client, photo, face.id).items():
        assert response.status_code == 409, name
        assert "too large to show" in response.get_data(as_text=True), name
    assert not storage.exists(derived_key(photo.sha256, THUMB_SIDE))
    assert not storage.exists(derived_key(photo.sha256, DISPLAY_SIDE))


def test_an_impossible_size_cannot_be_approved_or_published_either(app, client, auth, db_session):
    from consentflow.audit.service import Actor
    from consentflow.errors import InvalidState
    from consentflow.publish.service import approve_purpose

    [photo] = _pr_photo(client, auth, db_session, [("ok.jpg", face_bytes("obama2.jpg"))])
    storage = storage_from_config(app.config)
    photo.storage_key = storage.put((BAD / "strip_1x79m.png").read_bytes())
    photo.media_type, photo.width, photo.height = "image/png", 1, 79_000_000
    photo.state = "needs_review"
    db_session.commit()
    with pytest.raises(InvalidState, match="too large to show"):
        approve_purpose(db_session, actor=Actor.system("test"), school_id=photo.school_id,
                        photo_id=photo.id, channel="website", expected_version=None,
                        now=photo.uploaded_at)
