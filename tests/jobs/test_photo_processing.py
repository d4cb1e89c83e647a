"""process_photo with the real queue, real images and real dlib: idempotent and crash-safe."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select, update

from consentflow.faces.engine import EngineSettings
from consentflow.faces.matching import MatchThresholds
from consentflow.jobs import get_queue
from consentflow.models import AuditEvent, Face, FaceReview, Photo, utcnow
from consentflow.photos import processing, service
from consentflow.photos.crypto import cipher_from_config
from consentflow.photos.tasks import process_photo, requeue_stale
from tests import factories
from tests.jobs.photo_helpers import ACTOR, NOW, enrol, face_bytes, faces_of, photo, run_jobs, upload

pytestmark = pytest.mark.slow


@pytest.fixture
def setup(app, db_session):
    school = factories.school(db_session, biometric_mode="all")
    barack = factories.person(db_session, school=school, first="Barack", external_id="100001")
    enrol(app, db_session, school, barack, "obama.jpg")
    album = factories.album(db_session, school=school)
    db_session.commit()
    return school, barack, album


def test_upload_request_never_detects_faces_the_worker_does(app, db_session, setup) -> None:
    _school, barack, album = setup
    [result] = upload(app, db_session, album, [("two.jpg", face_bytes("two_people.jpg"))])
    assert result.status == "accepted"
    assert photo(db_session, result.photo_id).state == "uploaded"
    assert get_queue(app).pending_count() == 1
    assert faces_of(db_session, result.photo_id) == []
    assert run_jobs(app) == 1
    done = photo(db_session, result.photo_id)
    assert done.state == "needs_review" and done.processed_at is not None
    assert done.engine_settings["match_strict"] == app.config["MATCH_STRICT"]
    faces = faces_of(db_session, result.photo_id)
    assert len(faces) == 2
    left, right = faces  # Obama left, Biden right
    assert left.match_status == "matched" and left.matched_person_id == barack.id
    assert right.matched_person_id is None and right.match_status == "unknown"
    # The unknown face's encoding is not stored; the matched one's is, encrypted.
    assert right.encoding_encrypted is None
    assert left.encoding_encrypted is not None


def test_job_run_twice_leaves_one_set_of_faces(app, db_session, setup) -> None:
    _school, _barack, album = setup
    [result] = upload(app, db_session, album, [("two.jpg", face_bytes("two_people.jpg"))])
    run_jobs(app)
    first = {f.id for f in faces_of(db_session, result.photo_id)}
    # A duplicate delivery of the same job: the claim refuses it, nothing changes.
    get_queue(app).enqueue("process_photo", result.photo_id)
    run_jobs(app)
    assert {f.id for f in faces_of(db_session, result.photo_id)} == first
    # A deliberate reprocess replaces the set (new rows), never adds a second one.
    db_session.execute(update(Face).where(Face.photo_id == result.photo_id).values(score=-1.0))
    service.reprocess_photo(db_session, ACTOR, photo(db_session, result.photo_id), now=NOW)
    db_session.commit()
    get_queue(app).enqueue("process_photo", result.photo_id)
    get_queue(app).enqueue("process_photo", result.photo_id)
    run_jobs(app)
    again = faces_of(db_session, result.photo_id)
    assert len(again) == len(first) == 2
    # New rows (SQLite may reuse ids, so the old rows were marked instead).
    assert all(f.score >= 0 for f in again)
    assert db_session.scalar(select(func.count()).select_from(Face).where(
        Face.photo_id == result.photo_id)) == 2
    processed = db_session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "photo.processed", AuditEvent.object_id == str(result.photo_id)))
    assert processed == 2


def test_worker_killed_mid_photo_is_processed_exactly_once(app, db_session, setup) -> None:
    _school, _barack, album = setup
    [result] = upload(app, db_session, album, [("obama2.jpg", face_bytes("obama2.jpg"))])
    get_queue(app).huey.flush()  # the job was taken by the worker that then died
    # What the dead worker left: its committed claim, and no faces.
    # Stamped now, not at the module's import: the lease (60 s) is shorter than a test run.
    claim = processing.claim_photo(db_session, result.photo_id, now=utcnow(),
                                   stale_after=timedelta(0))
    db_session.commit()
    assert claim is not None and photo(db_session, result.photo_id).state == "processing"
    # A fresh claim is respected: nothing is re-queued while the worker may be alive.
    assert requeue_stale() == 0
    # Later, the claim is stale: recovery re-queues it (twice, to be sure it is harmless).
    db_session.execute(update(Photo).where(Photo.id == result.photo_id).values(
        processing_started_at=NOW - timedelta(hours=2), version=Photo.version + 1))
    db_session.commit()
    assert requeue_stale() == 1
    get_queue(app).enqueue("process_photo", result.photo_id)
    run_jobs(app)
    assert photo(db_session, result.photo_id).state == "needs_review"
    assert len(faces_of(db_session, result.photo_id)) == 1
    # The dead worker wakes up and tries to record its result: refused, nothing doubles.
    recorded = _late_record(db_session, claim)
    assert recorded is False
    assert len(faces_of(db_session, result.photo_id)) == 1
    assert photo(db_session, result.photo_id).attempts == 2


def _late_record(session, claim) -> bool:
    ok = processing.record_result(session, claim, [], cipher=cipher_from_config(current_app.config),
                                  settings=EngineSettings(), thresholds=MatchThresholds.from_config(current_app.config),
                                  now=NOW)
    session.rollback()
    return ok


def test_missing_original_fails_with_reason_and_can_be_retried(app, db_session, setup) -> None:
    _school, _barack, album = setup
    [result] = upload(app, db_session, album, [("obama2.jpg", face_bytes("obama2.jpg"))])
    from consentflow.photos.storage import storage_from_config

    storage = storage_from_config(app.config)
    key = photo(db_session, result.photo_id).storage_key
    saved = storage.read(key)
    storage.delete(key)
    run_jobs(app)
    failed = photo(db_session, result.photo_id)
    assert failed.state == "failed" and "missing" in (failed.failure_reason or "")
    progress = service.album_progress(db_session, album.id)
    assert progress.failed == 1 and progress.failures[0].reason == failed.failure_reason
    storage.put(saved)
    service.reprocess_photo(db_session, ACTOR, failed, now=NOW)
    db_session.commit()
    get_queue(app).enqueue("process_photo", result.photo_id)
    run_jobs(app)
    assert photo(db_session, result.photo_id).state == "needs_review"
    assert photo(db_session, result.photo_id).failure_reason is None


def test_repeatedly_interrupted_photo_ends_failed_not_in_a_loop(app, db_session, setup) -> None:
    _school, _barack, album = setup
    [result] = upload(app, db_session, album, [("obama2.jpg", face_bytes("obama2.jpg"))])
    get_queue(app).huey.flush()
    db_session.execute(update(Photo).where(Photo.id == result.photo_id).values(
        state="processing", attempts=processing.MAX_ATTEMPTS, version=Photo.version + 1,
        processing_started_at=NOW - timedelta(hours=2)))
    db_session.commit()
    assert process_photo(result.photo_id) == "failed"
    db_session.commit()
    failed = photo(db_session, result.photo_id)
    assert failed.state == "failed" and "interrupted" in failed.failure_reason


def test_reviewer_decisions_survive_reprocessing(app, db_session, setup) -> None:
    _school, barack, album = setup
    [result] = upload(app, db_session, album, [("two.jpg", face_bytes("two_people.jpg"))])
    run_jobs(app)
    left = faces_of(db_session, result.photo_id)[0]
    review = FaceReview(photo_id=result.photo_id, face_id=left.id, kind="confirm",
                        person_id=barack.id, left=left.left, top=left.top, right=left.right,
                        bottom=left.bottom)
    db_session.add(review)
    db_session.commit()
    service.reprocess_photo(db_session, ACTOR, photo(db_session, result.photo_id), now=NOW)
    db_session.commit()
    get_queue(app).enqueue("process_photo", result.photo_id)
    run_jobs(app)
    db_session.refresh(review)
    assert review.revoked_at is None
    new_left = faces_of(db_session, result.photo_id)[0]
    assert review.face_id == new_left.id and new_left.source == "detector"
    assert db_session.scalar(select(func.count()).select_from(Face).where(
        Face.photo_id == result.photo_id)) == 2


def test_stale_recovery_is_scheduled_in_the_worker(app) -> None:
    """A killed worker's photo is found again without anyone opening a page."""
    from datetime import datetime, timezone

    from consentflow.jobs import get_queue

    huey = get_queue(app).huey
    names = {task.name for task in huey._registry.periodic_tasks}
    assert "recover_stale_photos.periodic" in names
    periodic = next(t for t in huey._registry.periodic_tasks if t.name == "recover_stale_photos.periodic")
    assert periodic.validate_datetime(datetime(2026, 11, 21, 10, 5, tzinfo=timezone.utc))
