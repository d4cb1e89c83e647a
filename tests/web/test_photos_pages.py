"""Photo pages: who sees what, per-file upload answers, progress, retry, thumbnails, CLI."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image
from sqlalchemy import func, select

from consentflow.jobs import get_queue
from consentflow.models import Album, Face, Photo, ReferenceFace
from tests import factories
from tests.jobs.photo_helpers import BAD, FACES, face_bytes, run_jobs


def _album_for(db_session, user, school, title="Sports day"):
    album = factories.album(db_session, school=school, created_by=user, title=title)
    db_session.commit()
    return album


def _upload(client, auth, album_id, files):
    token = auth.csrf(f"/photos/albums/{album_id}/upload")
    data = {"csrf_token": token, "files": [(io.BytesIO(b), name) for name, b in files]}
    return client.post(f"/photos/albums/{album_id}/upload", data=data,
                       content_type="multipart/form-data",
                       headers={"Accept": "application/json", "X-Requested-With": "fetch"})


def test_create_album_and_list(client, auth, db_session):
    auth.as_role(db_session, "teacher")
    token = auth.csrf("/photos/albums/new")
    response = client.post("/photos/albums/new", data={
        "csrf_token": token, "title": "Schoolreis", "event_date": "2026-05-12",
        "description": "Naar de zee", "maker": "J. Fotograaf", "purposes": ["website", "newsletter"]})
    assert response.status_code == 302
    album = db_session.scalar(select(Album))
    assert album.title == "Schoolreis" and album.purposes == ["website", "newsletter"]
    assert "Schoolreis" in client.get("/photos/").get_data(as_text=True)


def test_upload_never_runs_detection_in_the_request(app, client, auth, db_session):
    teacher = auth.as_role(db_session, "teacher")
    school = teacher.memberships[0].school
    album = _album_for(db_session, teacher, school)
    response = _upload(client, auth, album.id, [("a.jpg", face_bytes("obama2.jpg")),
                                                ("evil.jpg", (BAD / "renamed_html.jpg").read_bytes()),
                                                ("bomb.png", (BAD / "bomb.png").read_bytes())])
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert "not a supported image" in results[1]["message"]
    assert "decompression bomb" in results[2]["message"]
    photo = db_session.get(Photo, results[0]["photo_id"])
    assert photo.state == "uploaded"
    assert db_session.scalar(select(func.count()).select_from(Face)) == 0
    assert get_queue(app).pending_count() == 1
    status = client.get(f"/photos/albums/{album.id}/status.json").get_json()
    assert (status["total"], status["queued"], status["done"]) == (1, 1, 0)
    run_jobs(app)
    status = client.get(f"/photos/albums/{album.id}/status.json").get_json()
    assert (status["done"], status["percent"], status["faces"]) == (1, 100, 1)


def test_teachers_see_only_their_own_albums_and_never_originals(app, client, auth, db_session):
    school = factories.school(db_session)
    other = factories.user(db_session, school=school, roles=("teacher",))
    theirs = _album_for(db_session, other, school, title="Not yours")
    teacher = auth.as_role(db_session, "teacher", school=school)
    mine = _album_for(db_session, teacher, school, title="Mine")
    _upload(client, auth, mine.id, [("a.jpg", face_bytes("obama2.jpg"))])
    their_photo = Photo(school_id=school.id, album_id=theirs.id, sha256="0" * 64,
                        storage_key=db_session.scalar(select(Photo.storage_key)),
                        original_filename="t.jpg", media_type="image/jpeg", width=1, height=1,
                        byte_size=1)
    db_session.add(their_photo)
    db_session.commit()
    listing = client.get("/photos/").get_data(as_text=True)
    assert "Mine" in listing and "Not yours" not in listing
    assert client.get(f"/photos/albums/{theirs.id}").status_code == 404
    assert client.get(f"/photos/albums/{theirs.id}/status.json").status_code == 404
    assert client.get(f"/photos/photo/{their_photo.id}/thumb").status_code == 404
    my_photo = db_session.scalar(select(Photo).where(Photo.album_id == mine.id))
    thumb = client.get(f"/photos/photo/{my_photo.id}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert "no-store" in thumb.headers["Cache-Control"]
    with Image.open(io.BytesIO(thumb.data)) as im:
        assert max(im.size) <= 480 and not im.getexif()
    assert client.get(f"/photos/photo/{my_photo.id}/original").status_code == 403


def test_pr_downloads_originals_as_attachment_and_other_schools_get_404(client, auth, db_session):
    school = factories.school(db_session)
    other_school = factories.school(db_session)
    pr = auth.as_role(db_session, "pr", school=school)
    album = _album_for(db_session, pr, school)
    _upload(client, auth, album.id, [("a.jpg", face_bytes("obama2.jpg"))])
    photo = db_session.scalar(select(Photo))
    original = client.get(f"/photos/photo/{photo.id}/original")
    assert original.status_code == 200 and original.data == face_bytes("obama2.jpg")
    assert original.headers["Content-Disposition"].startswith("attachment")
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    foreign = _album_for(db_session, None, other_school)
    assert client.get(f"/photos/albums/{foreign.id}").status_code == 404


def test_failed_photo_shows_reason_and_retry(app, client, auth, db_session):
    teacher = auth.as_role(db_session, "teacher")
    album = _album_for(db_session, teacher, teacher.memberships[0].school)
    _upload(client, auth, album.id, [("a.jpg", face_bytes("obama2.jpg"))])
    photo = db_session.scalar(select(Photo))
    photo.state, photo.failure_reason = "failed", "The image cannot be decoded: boom"
    db_session.commit()
    get_queue(app).huey.flush()
    page = client.get(f"/photos/albums/{album.id}").get_data(as_text=True)
    assert "boom" in page and f"/photos/{photo.id}/retry" in page
    token = auth.csrf(f"/photos/albums/{album.id}")
    response = client.post(f"/photos/albums/{album.id}/photos/{photo.id}/retry",
                           data={"csrf_token": token})
    assert response.status_code == 302
    db_session.refresh(photo)
    assert photo.state == "uploaded" and photo.failure_reason is None
    assert get_queue(app).pending_count() == 1


@pytest.mark.slow
def test_admin_enrols_portraits_one_face_each(client, auth, db_session):
    school = factories.school(db_session, biometric_mode="all")
    person = factories.person(db_session, school=school)
    db_session.commit()
    auth.as_role(db_session, "admin", school=school)
    token = auth.csrf(f"/photos/reference/{person.id}")
    response = client.post(f"/photos/reference/{person.id}", data={
        "csrf_token": token,
        "portraits": [(io.BytesIO(face_bytes("obama.jpg")), "p.jpg"),
                      (io.BytesIO(face_bytes("two_people.jpg")), "group.jpg")]},
        content_type="multipart/form-data", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "exactly one face" in page
    assert db_session.scalar(select(func.count()).select_from(ReferenceFace)) == 1


@pytest.mark.slow
def test_cli_faces_detect_json_uses_the_engine(app, runner):
    from consentflow.faces.engine import detect_file
    from consentflow.photos.tasks import engine_settings

    path = str(FACES / "two_people.jpg")
    result = runner.invoke(args=["faces", "detect", path, "--json"])
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)
    expected = detect_file(path, engine_settings())
    assert [(f["left"], f["top"], f["right"], f["bottom"]) for f in item["faces"]] == [
        (f["left"], f["top"], f["right"], f["bottom"]) for f in expected["faces"]]
    assert len(item["faces"]) == 2 and "settings" in item and item["ms"] > 0


@pytest.mark.slow
def test_cli_enrol_from_zip_named_by_student_number(app, runner, db_session, tmp_path):
    school = factories.school(db_session, biometric_mode="all")
    factories.person(db_session, school=school, external_id="100001")
    db_session.commit()
    archive = tmp_path / "portraits.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("100001.jpg", face_bytes("obama.jpg"))
        zf.writestr("portraits/100001_2.jpg", face_bytes("obama2.jpg"))
        zf.writestr("999999.jpg", face_bytes("biden.jpg"))
        zf.writestr("100001_3.jpg", face_bytes("two_people.jpg"))
    result = runner.invoke(args=["faces", "enrol", str(archive), "--school", school.slug])
    assert result.exit_code == 0, result.output
    assert "2 enrolled, 2 rejected" in result.output
    assert "no person with this student number" in result.output
    assert "exactly one face" in result.output


def test_cli_reprocess_failed(app, runner, db_session):
    school = factories.school(db_session)
    album = factories.album(db_session, school=school)
    photo = Photo(school_id=school.id, album_id=album.id, sha256="1" * 64, storage_key=None,
                  original_filename="x.jpg", media_type="image/jpeg", width=1, height=1,
                  byte_size=1, state="failed", failure_reason="x")
    db_session.add(photo)
    db_session.commit()
    result = runner.invoke(args=["photos", "reprocess", "--failed", "--run"])
    assert result.exit_code == 0, result.output
    assert "1 photo(s) queued again" in result.output
    db_session.refresh(photo)
    # The original is gone, so it fails again, with that reason.
    assert photo.state == "failed" and "no longer stored" in photo.failure_reason
