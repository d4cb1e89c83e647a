"""The review rules' whole outcome on a real database: order, suggestions, consent record kept.

Mutation testing (bench/mutate.py) showed that review.rules could lose the
consent record behind a shown face (the publication snapshot names it), stop
at a "not a face" instead of skipping it, drop the matcher's suggestion or a
face's candidates, or misread "external adult", with every test green. Each
field is pinned here against real rows.
"""

from __future__ import annotations

from datetime import date

from consentflow.models import Face, FaceReview
from consentflow.photos.decisions import consent_purpose
from consentflow.publish.redact import PlannedFace
from consentflow.publish.service import planned
from consentflow.review.rules import (
    active_reviews,
    box_of,
    channel_of,
    decide_channels,
    medium_of,
    people_names,
    reattach_reviews,
    resolve_faces,
)
from consentflow.review.service import record_review
from tests.services.test_publish_support import APPROVED_AT, add_face, add_photo, build_world, consent

ON = date(2026, 10, 6)


def test_resolved_faces_in_reading_order_with_suggestions(app, db_session):
    w = build_world(db_session, app)
    stranger = add_face(db_session, w.photo, (100, 300, 160, 370))
    leftmost = add_face(db_session, w.photo, (20, 300, 80, 370))  # same top, added later
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.biden_face.id,
                  kind="external_adult", note="burgemeester", expected_version=None, now=APPROVED_AT)
    db_session.commit()

    resolved = resolve_faces(db_session, w.photo.id)
    # Top first, then left: Obama (top 21), Biden (top 39), then at top 300 left 20 before left 100.
    assert [r.face.id for r in resolved] == [w.obama_face.id, w.biden_face.id, leftmost.id, stranger.id]
    obama, biden, _, other = resolved
    assert obama.suggested_person_id == w.obama.id and obama.person_id is None
    assert obama.candidates == ({"person_id": w.obama.id, "distance": 0.35},)
    assert not obama.external and not obama.not_face and obama.review is None
    assert biden.external and not biden.not_face and biden.person_id is None
    assert other.suggested_person_id is None and other.candidates == ()


def test_decisions_keep_the_consent_record_and_skip_only_non_faces(app, db_session):
    w = build_world(db_session, app)
    stranger = add_face(db_session, w.photo, (100, 10, 160, 80))  # above both: decided first
    mayor = add_face(db_session, w.photo, (1000, 400, 1060, 470))  # below both: decided last
    obama_yes = consent(db_session, w, w.obama, {"website.photo"}, at=APPROVED_AT)
    biden_yes = consent(db_session, w, w.biden, {"website.photo"}, at=APPROVED_AT)
    for face, kind, person, note in ((stranger, "not_face", None, None), (w.obama_face, "confirm", None, None),
                                     (w.biden_face, "assign", w.biden.id, None),
                                     (mayor, "external_adult", None, "de burgemeester")):
        record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=face.id, kind=kind,
                      person_id=person, note=note, expected_version=None, now=APPROVED_AT)
    db_session.commit()

    decisions = decide_channels(db_session, resolve_faces(db_session, w.photo.id),
                             ["website", "social_media"], ON)
    web = decisions["website"]
    # The non-face is left out; the faces after it are still decided.
    assert [(d.resolved.face.id, d.decision, d.consent_record_id, d.basis) for d in web] == [
        (w.obama_face.id, "show", obama_yes.id, "consent"),
        (w.biden_face.id, "show", biden_yes.id, "consent"),
        (mayor.id, "show", None, "external_adult"),
    ]
    social = decisions["social_media"]
    assert [(d.decision, d.consent_record_id, d.basis) for d in social] == [
        ("blur_no_consent", None, "no_consent"), ("blur_no_consent", None, "no_consent"),
        ("show", None, "external_adult")]
    # What the redaction is told: each face's box with its decision.
    assert planned(social) == [PlannedFace(box_of(w.obama_face), "blur_no_consent"),
                               PlannedFace(box_of(w.biden_face), "blur_no_consent"),
                               PlannedFace(box_of(mayor), "show")]
    assert people_names(db_session, [w.obama.id, w.obama.id]) == {w.obama.id: w.obama.full_name}
    assert people_names(db_session, []) == {}


def test_a_video_needs_video_consent(app, db_session):
    """Consent to photos is no consent to videos: a video item is decided on "<channel>.video"."""
    w = build_world(db_session, app)
    video = add_photo(db_session, w, "obama.jpg")  # the row stands for a video item
    video.media_type = "video/mp4"
    face = add_face(db_session, video, (100, 100, 200, 220), matched=w.obama)
    consent(db_session, w, w.obama, {"website.photo"}, at=APPROVED_AT)
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=face.id, kind="confirm",
                  expected_version=None, now=APPROVED_AT)
    db_session.commit()
    web = decide_channels(db_session, resolve_faces(db_session, video.id), ["website"], ON)["website"]
    assert [(d.decision, d.basis) for d in web] == [("blur_no_consent", "no_consent")]
    on_photo = decide_channels(db_session, resolve_faces(db_session, w.photo.id), ["website"], ON)["website"]
    assert [d.basis for d in on_photo] == ["awaiting_confirmation", "no_consent"]


def test_purpose_keys_and_channels() -> None:
    assert consent_purpose("website") == "website.photo"
    assert consent_purpose("website", "video") == "website.video"
    assert channel_of("website.photo") == "website"
    assert channel_of("social_media.video") == "social_media"


# --- decisions moved to new detections after reprocessing --------------------------


def _detached(db_session, w, *boxes):
    """"Not a face" decisions whose faces a reprocessing removed (each keeps its box).

    Recording a decision reattaches the photo's loose ones first, so every
    decision is recorded before any face is removed.
    """
    faces = [add_face(db_session, w.photo, box) for box in boxes]
    ids = [record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=face.id,
                         kind="not_face", expected_version=None, now=APPROVED_AT).id for face in faces]
    for face in faces:
        db_session.delete(face)
    db_session.flush()
    db_session.expire_all()
    assert [db_session.get(FaceReview, i).face_id for i in ids] == [None] * len(ids)
    return ids


def _face_of(db_session, review_id):
    return db_session.get(Face, db_session.get(FaceReview, review_id).face_id)


def test_a_decision_moves_to_the_best_free_overlap_from_half_upwards(app, db_session):
    w = build_world(db_session, app)
    best_id, tie_id = _detached(db_session, w, (0, 400, 100, 500), (400, 400, 500, 500))
    # IoU 0.6 and 0.8 with the first decision's box: the better one wins.
    fair = add_face(db_session, w.photo, (0, 400, 100, 460))
    good = add_face(db_session, w.photo, (0, 400, 100, 480))
    # Two new faces each exactly at IoU 0.5 with the second: enough, the first (by id) wins.
    first = add_face(db_session, w.photo, (400, 400, 500, 450))
    add_face(db_session, w.photo, (400, 450, 500, 500))
    assert reattach_reviews(db_session, w.photo.id) == 2
    assert _face_of(db_session, best_id).id == good.id
    assert _face_of(db_session, tie_id).id == first.id
    assert fair.id not in {r.face_id for r in active_reviews(db_session, w.photo.id)}
    assert reattach_reviews(db_session, w.photo.id) == 0  # nothing left to move


def test_a_decided_face_is_not_taken_twice(app, db_session):
    w = build_world(db_session, app)
    decided = add_face(db_session, w.photo, (0, 400, 100, 490))  # the best overlap, already decided
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=decided.id, kind="not_face",
                  expected_version=None, now=APPROVED_AT)
    moved_id, second_id = _detached(db_session, w, (0, 400, 100, 500), (0, 400, 100, 500))
    free = add_face(db_session, w.photo, (0, 400, 100, 470))
    assert reattach_reviews(db_session, w.photo.id) == 2
    assert _face_of(db_session, moved_id).id == free.id
    # The only free overlap went to the first decision: the second becomes a reviewer face.
    assert _face_of(db_session, second_id).source == "reviewer"


def test_a_decision_without_enough_overlap_becomes_a_reviewer_face(app, db_session):
    w = build_world(db_session, app)
    boxes = ((0, 400, 100, 500), (600, 600, 660, 680))
    review_ids = _detached(db_session, w, *boxes)
    weak = add_face(db_session, w.photo, (0, 400, 100, 420))  # IoU 0.2: not the same face
    assert reattach_reviews(db_session, w.photo.id) == 2
    for review_id, box in zip(review_ids, boxes):
        face = _face_of(db_session, review_id)
        assert face.id != weak.id
        assert (face.left, face.top, face.right, face.bottom) == box
        assert (face.source, face.detector, face.score, face.match_status, face.candidates,
                face.matched_person_id) == ("reviewer", "reviewer", 1.0, "unknown", [], None)


def test_active_reviews_are_this_photos_unrevoked_ones_in_order(app, db_session):
    w = build_world(db_session, app)
    other = add_photo(db_session, w, "bald_guys.jpg")
    elsewhere = add_face(db_session, other, (0, 0, 50, 50))
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=elsewhere.id, kind="not_face",
                  expected_version=None, now=APPROVED_AT)
    later = record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.biden_face.id,
                          kind="not_face", expected_version=None, now=APPROVED_AT)
    first = record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.obama_face.id,
                          kind="not_face", expected_version=None, now=APPROVED_AT)
    # A new decision on the same face revokes the earlier one.
    newest = record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.obama_face.id,
                           kind="external_adult", note="gastspreker", expected_version=None, now=APPROVED_AT)
    db_session.flush()
    assert db_session.get(FaceReview, first.id).revoked_at is not None
    assert [r.id for r in active_reviews(db_session, w.photo.id)] == sorted([later.id, newest.id])


def test_only_a_confirmed_match_is_a_suggestion_and_media_decide_the_consent(app, db_session):
    w = build_world(db_session, app)
    w.obama_face.match_status = "ambiguous"  # the matcher's best guess, not a match
    db_session.flush()
    assert {r.face.id: r.suggested_person_id for r in resolve_faces(db_session, w.photo.id)}[
        w.obama_face.id] is None
    assert medium_of(w.photo) == "photo"
    w.photo.media_type = "video/mp4"
    assert medium_of(w.photo) == "video"
    assert decide_channels(db_session, [], ["website"], ON) == {"website": []}
