"""Videos over HTTP: stored and queued like photos, never through the still-image paths."""

from __future__ import annotations

import hashlib
import io
import re
import tracemalloc

import pytest
from PIL import Image
from sqlalchemy import func, select

from consentflow.audit.service import Actor
from consentflow.errors import InvalidState
from consentflow.faces.matching import MatchThresholds
from consentflow.jobs import get_queue
from consentflow.models import AuditEvent, Face, Photo, PhotoPurpose, Publication
from consentflow.photos.service import photos_to_reprocess
from consentflow.photos.storage import LocalStorage
from consentflow.photos.uploads import receive_upload, upload_limits
from consentflow.publish.service import preview_derivative, publish_photo
from tests import factories
from tests.jobs.photo_helpers import face_bytes, run_jobs
from tests.unit.test_video_upload import ebml, mp4

VERSION_RE = re.compile(r'name="version" value="(\d+)"')


def _upload(client, auth, album_id, files):
    token = auth.csrf(f"/photos/albums/{album_id}/upload")
    data = {"csrf_token": token, "files": [(io.BytesIO(b), name) for name, b in files]}
    return client.post(f"/photos/albums/{album_id}/upload", data=data,
                       content_type="multipart/form-data",
                       headers={"Accept": "application/json", "X-Requested-With": "fetch"})


@pytest.fixture
def pr_album(client, auth, db_session):
    school = factories.school(db_session)
    user = auth.as_role(db_session, "pr", school=school)
    album = factories.album(db_session, school=school, created_by=user)
    db_session.commit()
    return school, user, album


def test_videos_are_stored_and_queued_and_a_broken_one_fails_with_its_reason(
        app, client, auth, db_session, pr_album):
    _school, _user, album = pr_album
    video, webm = mp4(), ebml()
    response = _upload(client, auth, album.id, [("clip.MP4", video), ("clip.webm", webm),
                                                ("evil.mp4", b"<!doctype html><html><script>x</script>"),
                                                ("a.jpg", face_bytes("obama2.jpg"))])
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "rejected", "accepted"]
    assert [r["video"] for r in results] == [True, True, False, False]
    assert "not a supported image" in results[2]["message"]
    videos = [db_session.get(Photo, r["photo_id"]) for r in results[:2]]
    assert [v.media_type for v in videos] == ["video/mp4", "video/webm"]
    assert [v.state for v in videos] == ["uploaded", "uploaded"]
    # Stored byte-exact, content-addressed, like a photo.
    storage = LocalStorage(app.config["STORAGE_DIR"])
    assert storage.read(videos[0].storage_key) == video
    assert videos[0].storage_key.endswith(videos[0].sha256)
    # Videos are queued like photos; these two are containers without a decodable stream.
    assert get_queue(app).pending_count() == 3
    page = client.get(f"/photos/albums/{album.id}").get_data(as_text=True)
    assert page.count('class="video-progress"') == 2
    run_jobs(app)
    db_session.expire_all()
    for v in videos:
        v = db_session.get(Photo, v.id)
        assert v.state == "failed" and v.failure_reason
        assert "Error" not in v.failure_reason  # the engine's clear message, not a traceback
    assert db_session.scalar(select(func.count()).select_from(Face).where(
        Face.photo_id.in_([v.id for v in videos]))) == 0
    # The album page labels videos; their thumbnail is a placeholder, never video bytes.
    page = client.get(f"/photos/albums/{album.id}").get_data(as_text=True)
    assert page.count("▶ Video") == 2
    thumb = client.get(f"/photos/photo/{videos[0].id}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/png"
    with Image.open(io.BytesIO(thumb.data)) as im:
        assert im.format == "PNG"
    # A failed video can be retried like a photo.
    token = auth.csrf(f"/photos/albums/{album.id}")
    client.post(f"/photos/albums/{album.id}/photos/{videos[0].id}/retry",
                data={"csrf_token": token}, follow_redirects=True)
    assert get_queue(app).pending_count() == 1
    assert {v.id for v in videos} <= {p.id for p in photos_to_reprocess(db_session, album.school_id)}
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "photo.upload",
                                                      AuditEvent.object_id == str(videos[0].id)))


def test_a_video_over_the_video_limit_is_refused(app, client, auth, db_session, pr_album):
    _school, _user, album = pr_album
    video = mp4(payload=bytes(4096))
    app.config["UPLOAD_MAX_VIDEO_BYTES"] = len(video) - 1
    results = _upload(client, auth, album.id, [("big.mov", video)]).get_json()["results"]
    assert results[0]["status"] == "rejected" and results[0]["code"] == "video_too_large"
    assert "video upload limit" in results[0]["message"]
    assert db_session.scalar(select(func.count()).select_from(Photo)) == 0
    app.config["UPLOAD_MAX_VIDEO_BYTES"] = len(video)
    results = _upload(client, auth, album.id, [("big.mov", video)]).get_json()["results"]
    assert results[0]["status"] == "accepted"


def test_a_video_never_goes_through_the_still_image_paths(app, client, auth, db_session,
                                                          pr_album):
    school, user, album = pr_album
    result = _upload(client, auth, album.id, [("clip.mp4", mp4())]).get_json()["results"][0]
    video = db_session.get(Photo, result["photo_id"])
    video.state = "needs_review"  # as if processed, with no tracks
    db_session.commit()

    page = client.get(f"/review/photo/{video.id}").get_data(as_text=True)
    assert 'id="video-stage"' in page
    assert 'class="facebox' not in page and 'id="draw-form"' not in page
    assert "review/photo/%d/image" % video.id not in page
    assert client.get(f"/review/photo/{video.id}/preview/website").status_code == 409
    actor = Actor(user.id, user.email)
    storage = LocalStorage(app.config["STORAGE_DIR"])
    db_session.add(PhotoPurpose(photo_id=video.id, purpose="website", status="approved"))
    db_session.get(Photo, video.id).state = "approved"
    db_session.commit()
    with pytest.raises(InvalidState):
        publish_photo(db_session, actor=actor, school_id=school.id, photo_id=video.id,
                      channel="website", storage=storage, now=video.uploaded_at,
                      tolerance=MatchThresholds.defaults().loose)
    with pytest.raises(InvalidState):
        preview_derivative(db_session, school_id=school.id, photo_id=video.id, channel="website",
                           storage=storage, now=video.uploaded_at)
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Publication)) == 0

    # Rejecting a video works as for a photo.
    page = client.get(f"/review/photo/{video.id}").get_data(as_text=True)
    version = int(VERSION_RE.search(page).group(1))
    csrf = auth.csrf("/review/")
    client.post(f"/review/photo/{video.id}/purpose/website",
                data={"action": "reject", "version": version, "csrf_token": csrf, "reason": "no"})
    db_session.expire_all()
    assert db_session.get(Photo, video.id).state == "rejected"


def test_review_image_route_does_not_decode_a_video(client, auth, db_session, pr_album) -> None:
    """A video has no frame to show on the review page: 404, never an attempt to decode it."""
    _school, _user, album = pr_album
    result = _upload(client, auth, album.id, [("clip.mp4", mp4())]).get_json()["results"][0]
    assert client.get(f"/review/photo/{result['photo_id']}/image").status_code == 404


def test_a_large_video_is_checked_and_stored_from_its_file_not_held_in_memory(
        app, db_session, pr_album, tmp_path) -> None:
    """A 64 MB recording passes the upload with a few MB of memory: its file is walked, hashed and
    copied in blocks (reading it whole, as before, costs its full size)."""
    school, user, album = pr_album
    head = mp4(payload=b"")
    size = 64 * 1024 * 1024
    path = tmp_path / "musical.mp4"
    with path.open("wb") as out:  # ftyp + moov, then one mdat box filling the file
        out.write(head[:-8] + (size - len(head) + 8).to_bytes(4, "big") + b"mdat")
        out.truncate(size)
    storage = LocalStorage(app.config["STORAGE_DIR"])
    actor = Actor(user.id, user.email)
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            result = receive_upload(db_session, storage, actor, album, "musical.mp4", stream,
                                    upload_limits(app.config))
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.status == "accepted" and result.video
    assert peak < 8 * 1024 * 1024, f"{peak / 2**20:.1f} MB held during the upload"
    stored = db_session.get(Photo, result.photo_id)
    assert stored.byte_size == size and stored.school_id == school.id
    with path.open("rb") as original, storage.open(stored.storage_key) as copy:
        assert hashlib.file_digest(original, "sha256").hexdigest() == stored.sha256
        assert hashlib.file_digest(copy, "sha256").hexdigest() == stored.sha256


def test_a_small_photo_upload_does_not_reserve_the_upload_limit(app, db_session, pr_album, tmp_path) -> None:
    """An image is read up to its limit in blocks: one read of the limit reserved 60 MB per file."""
    _school, user, album = pr_album
    path = tmp_path / "portrait.jpg"
    path.write_bytes(face_bytes("obama2.jpg"))
    storage = LocalStorage(app.config["STORAGE_DIR"])
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            result = receive_upload(db_session, storage, Actor(user.id, user.email), album, "portrait.jpg",
                                    stream, upload_limits(app.config))
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.status == "accepted" and not result.video
    assert peak < 20 * 1024 * 1024, f"{peak / 2**20:.1f} MB held during the upload"
