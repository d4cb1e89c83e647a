"""Uploads: per-file outcomes, hostile files, duplicates, storage outside the web root."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from consentflow.errors import InvalidInput, InvalidState
from consentflow.models import AuditEvent, Face, Photo
from consentflow.photos import service
from consentflow.photos.storage import LocalStorage, storage_from_config
from tests import factories
from tests.jobs.photo_helpers import ACTOR, BAD, NOW, TODAY, face_bytes, faces_of, photo, run_jobs, upload


@pytest.mark.slow
def test_hostile_files_get_their_message_and_the_rest_of_the_batch_is_processed(app, db_session):
    school = factories.school(db_session)
    album = factories.album(db_session, school=school)
    db_session.commit()
    batch = [
        ("good1.jpg", face_bytes("obama2.jpg")),
        ("bomb.png", (BAD / "bomb.png").read_bytes()),
        ("truncated.jpg", (BAD / "truncated.jpg").read_bytes()),
        ("page.jpg", (BAD / "renamed_html.jpg").read_bytes()),
        ("poly.jpg", (BAD / "polyglot_html.jpg").read_bytes()),
        ("rotated.jpg", (BAD / "exif_rotated.jpg").read_bytes()),
        ("portrait.heic", (BAD / "portrait.heic").read_bytes()),
    ]
    results = upload(app, db_session, album, batch)
    assert [r.status for r in results] == [
        "accepted", "rejected", "rejected", "rejected", "rejected", "accepted", "accepted"]
    assert [r.code for r in results if r.status == "rejected"] == [
        "too_many_pixels", "truncated", "not_an_image", "polyglot"]
    assert all(r.message for r in results if r.status == "rejected")
    assert db_session.scalar(select(func.count()).select_from(Photo)) == 3
    run_jobs(app)
    for r in results:
        if r.status == "accepted":
            assert photo(db_session, r.photo_id).state == "needs_review"
            assert len(faces_of(db_session, r.photo_id)) == 1, r.filename
    # The EXIF-rotated photo: stored size and face box are those of the upright image.
    rotated = photo(db_session, results[5].photo_id)
    assert rotated.height > rotated.width
    [face] = faces_of(db_session, rotated.id)
    assert face.bottom <= rotated.height and face.right <= rotated.width
    assert face.top < rotated.height / 2  # the face is in the upper half once upright


def test_duplicates_are_recognised_in_the_album_and_reported_across_albums(app, db_session):
    school = factories.school(db_session)
    first = factories.album(db_session, school=school, title="A")
    second = factories.album(db_session, school=school, title="B")
    db_session.commit()
    data = face_bytes("obama2.jpg")
    [a] = upload(app, db_session, first, [("x.jpg", data)])
    [dup] = upload(app, db_session, first, [("copy.jpg", data)])
    assert dup.status == "duplicate" and dup.photo_id == a.photo_id
    [b] = upload(app, db_session, second, [("x.jpg", data)])
    assert b.status == "accepted" and b.also_in_albums == (first.id,)
    # Content-addressed: one stored file for both photos.
    assert photo(db_session, a.photo_id).storage_key == photo(db_session, b.photo_id).storage_key


def test_originals_are_stored_content_addressed_outside_static(app, db_session):
    school = factories.school(db_session)
    album = factories.album(db_session, school=school)
    db_session.commit()
    data = face_bytes("obama2.jpg")
    [r] = upload(app, db_session, album, [("../../etc/x.jpg", data)])
    stored = photo(db_session, r.photo_id)
    assert stored.original_filename == "x.jpg"
    assert stored.sha256 in stored.storage_key
    storage = storage_from_config(app.config)
    assert isinstance(storage, LocalStorage) and storage.read(stored.storage_key) == data
    static = os.path.abspath(app.static_folder)
    assert not storage.root.startswith(static)
    with pytest.raises(ValueError):
        storage.read("../consentflow.db")


def test_upload_is_audited_without_the_file_name_in_details(app, db_session):
    school = factories.school(db_session)
    album = factories.album(db_session, school=school)
    db_session.commit()
    [r] = upload(app, db_session, album, [("Jan de Vries.jpg", face_bytes("obama2.jpg"))])
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "photo.upload"))
    assert event.object_id == str(r.photo_id)
    assert "Jan de Vries" not in str(event.details)


def test_album_rules(app, db_session):
    school = factories.school(db_session)
    with pytest.raises(InvalidInput):
        service.create_album(db_session, ACTOR, school.id, title=" ", event_date=TODAY, now=NOW)
    with pytest.raises(InvalidInput):
        service.create_album(db_session, ACTOR, school.id, title="X", event_date=TODAY,
                             purposes=["billboard"], now=NOW)
    album = service.create_album(db_session, ACTOR, school.id, title="Sports day",
                                 event_date=TODAY, purposes=["website", "website"], now=NOW)
    assert album.purposes == ["website"]


def test_progress_counts_and_reprocess_rules(app, db_session):
    school = factories.school(db_session)
    album = factories.album(db_session, school=school)
    db_session.commit()
    results = upload(app, db_session, album, [("a.jpg", face_bytes("obama2.jpg")),
                                              ("b.jpg", face_bytes("dogs.jpg"))])
    progress = service.album_progress(db_session, album.id)
    assert (progress.total, progress.queued, progress.done, progress.percent) == (2, 2, 0, 0)
    run_jobs(app)
    progress = service.album_progress(db_session, album.id)
    assert (progress.done, progress.percent, progress.faces) == (2, 100, 1)
    # No face found still goes to review: "no face" never means "safe".
    assert photo(db_session, results[1].photo_id).state == "needs_review"
    assert faces_of(db_session, results[1].photo_id) == []
    published = photo(db_session, results[0].photo_id)
    published.state = "published"
    db_session.commit()
    with pytest.raises(InvalidState):
        service.reprocess_photo(db_session, ACTOR, published, now=NOW)
    assert db_session.scalar(select(func.count()).select_from(Face)) == 1
