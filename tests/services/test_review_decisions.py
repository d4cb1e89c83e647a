"""Reviewer decisions are kept apart from detections and survive reprocessing (real pipeline)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from consentflow.errors import ConflictError, InvalidInput
from consentflow.models import Face, FaceReview, PhotoPurpose, utcnow
from consentflow.photos import service as photos
from consentflow.photos.boxes import Box
from consentflow.photos.tasks import process_photo
from consentflow.publish.service import approve_purpose
from consentflow.review.rules import box_of, reattach_reviews, resolve_faces
from consentflow.review.service import draw_face, record_review, set_purpose_block
from tests import factories
from tests.services.test_publish_support import (
    APPROVED_AT,
    BIDEN_BOX,
    FACES,
    build_world,
    confirm_both,
)

pytestmark = [pytest.mark.slow]


def _processed_photo(db_session, w):
    album = factories.album(db_session, school=w.school, title="Reprocess")
    result = photos.upload_photo(db_session, w.storage, w.actor, album, "two_people.jpg",
                                 (FACES / "two_people.jpg").read_bytes(), now=utcnow())
    db_session.commit()
    assert process_photo(result.photo_id) == "done"
    db_session.commit()
    return db_session.get(type(w.photo), result.photo_id)


def test_reprocessing_keeps_every_reviewer_decision(app, db_session):
    w = build_world(db_session, app)
    photo = _processed_photo(db_session, w)
    faces = list(db_session.scalars(select(Face).where(Face.photo_id == photo.id)
                                    .order_by(Face.left)))
    assert len(faces) == 2  # the real detector finds Obama (left) and Biden (right)
    left, right = faces
    now = utcnow()
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=left.id, kind="assign",
                  person_id=w.obama.id, expected_version=None, now=now)
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=right.id,
                  kind="not_face", expected_version=None, now=now)
    drawn = draw_face(db_session, actor=w.actor, school_id=w.school.id, photo_id=photo.id,
                      box=Box(500, 300, 560, 370), person_id=w.biden.id, expected_version=None,
                      now=now)
    db_session.commit()
    old_ids = {left.id, right.id}

    photos.reprocess_photo(db_session, w.actor, photo, now=utcnow())
    db_session.commit()
    assert process_photo(photo.id) == "done"
    db_session.commit()
    db_session.expire_all()

    current = {f.id: f for f in db_session.scalars(select(Face).where(Face.photo_id == photo.id))}
    assert not old_ids & set(current), "detections were replaced"
    reviews = db_session.scalars(select(FaceReview).where(FaceReview.photo_id == photo.id,
                                                          FaceReview.revoked_at.is_(None))).all()
    assert len(reviews) == 3
    for review in reviews:
        assert review.face_id in current
        assert box_of(current[review.face_id]).iou(box_of(review)) > 0.5
    resolved = {r.face.id: r for r in resolve_faces(db_session, photo.id)}
    by_kind = {r.kind: resolved[r.face_id] for r in reviews}
    assert by_kind["assign"].person_id in (w.obama.id, w.biden.id)
    assert by_kind["not_face"].not_face
    assert drawn.id in current  # a reviewer's box is not a detection: never replaced


def test_decision_reattaches_or_becomes_a_reviewer_face(app, db_session):
    w = build_world(db_session, app)
    confirm_both(db_session, w)
    db_session.commit()
    # Simulate reprocessing that no longer finds Biden at all.
    biden_review = db_session.scalar(select(FaceReview).where(FaceReview.face_id == w.biden_face.id))
    db_session.delete(w.biden_face)
    db_session.flush()
    db_session.expire_all()
    assert db_session.get(FaceReview, biden_review.id).face_id is None
    assert reattach_reviews(db_session, w.photo.id) == 1
    review = db_session.get(FaceReview, biden_review.id)
    face = db_session.get(Face, review.face_id)
    assert face.source == "reviewer" and box_of(face) == Box(*BIDEN_BOX)
    assert any(r.person_id == w.biden.id for r in resolve_faces(db_session, w.photo.id))


def test_version_conflict_and_one_person_per_photo(app, db_session):
    w = build_world(db_session, app)
    db_session.commit()
    seen = w.photo.version
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.obama_face.id,
                  kind="confirm", expected_version=seen, now=APPROVED_AT)
    db_session.commit()
    with pytest.raises(ConflictError):
        record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.biden_face.id,
                      kind="not_face", expected_version=seen, now=APPROVED_AT)
    db_session.rollback()
    with pytest.raises(InvalidInput):
        record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.biden_face.id,
                      kind="assign", person_id=w.obama.id, expected_version=None, now=APPROVED_AT)


def test_changing_a_decision_voids_an_unpublished_approval(app, db_session):
    w = build_world(db_session, app)
    confirm_both(db_session, w)
    approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                    channel="website", expected_version=None, now=APPROVED_AT)
    assert w.photo.state == "approved"
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.biden_face.id,
                  kind="not_person", expected_version=None, now=APPROVED_AT + timedelta(minutes=5))
    pp = db_session.scalar(select(PhotoPurpose).where(PhotoPurpose.photo_id == w.photo.id))
    assert pp.status == "pending" and w.photo.state == "needs_review"
    with pytest.raises(InvalidInput):
        set_purpose_block(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                          channel="website", blocked=True, reason="", expected_version=None,
                          now=APPROVED_AT)
    set_purpose_block(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                      channel="website", blocked=True, reason="Biden is the subject",
                      expected_version=None, now=APPROVED_AT)
    assert pp.status == "blocked"
