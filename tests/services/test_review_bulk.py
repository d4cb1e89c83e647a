"""Bulk decisions on a group photo: all or nothing, one person once, school-scoped, versioned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from consentflow.errors import ConflictError, InvalidInput, NotFound
from consentflow.models import AuditEvent, FaceReview, utcnow
from consentflow.review.bulk import decide_faces
from consentflow.review.rules import decide_channels, resolve_faces
from consentflow.review.service import record_review
from tests.services.test_publish_support import APPROVED_AT, add_face, build_world, consent


def _active(db_session, photo_id):
    return list(db_session.scalars(select(FaceReview).where(
        FaceReview.photo_id == photo_id, FaceReview.revoked_at.is_(None)).order_by(FaceReview.id)))


def _bulk(db_session, w, face_ids, action, version=None, school_id=None):
    return decide_faces(db_session, actor=w.actor, school_id=school_id or w.school.id,
                        photo_id=w.photo.id, face_ids=face_ids, action=action,
                        expected_version=version, now=utcnow())


def test_bulk_confirm_records_each_face_with_one_audit_event_each(app, db_session):
    w = build_world(db_session, app)
    consent(db_session, w, w.obama, {"website.photo"}, at=APPROVED_AT - timedelta(days=2))
    db_session.commit()
    reviews = _bulk(db_session, w, [w.obama_face.id, w.biden_face.id], "confirm",
                    version=w.photo.version)
    db_session.commit()
    assert {(r.face_id, r.person_id, r.kind) for r in reviews} == {
        (w.obama_face.id, w.obama.id, "confirm"), (w.biden_face.id, w.biden.id, "confirm")}
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "face.confirm")).all()
    assert sorted(e.object_id for e in events) == sorted([str(w.obama_face.id), str(w.biden_face.id)])
    assert len({e.details["bulk"]["id"] for e in events}) == 1  # one bulk action, two decisions
    decisions = decide_channels(db_session, resolve_faces(db_session, w.photo.id), ["website"],
                             APPROVED_AT.date())["website"]
    by_face = {d.resolved.face.id: d.decision for d in decisions}
    # The rules still decide: confirmed without consent stays blurred.
    assert by_face == {w.obama_face.id: "show", w.biden_face.id: "blur_no_consent"}


def test_bulk_confirm_never_assigns_a_person_already_on_another_face(app, db_session):
    w = build_world(db_session, app)
    third = add_face(db_session, w.photo, (500, 300, 560, 370), matched=w.obama, distance=0.45)
    db_session.commit()
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.obama_face.id,
                  kind="assign", person_id=w.obama.id, expected_version=None, now=utcnow())
    db_session.commit()
    before = _active(db_session, w.photo.id)
    with pytest.raises(InvalidInput, match="already assigned to another face"):
        _bulk(db_session, w, [w.biden_face.id, third.id], "confirm")
    db_session.rollback()
    # All or nothing: Biden's face, which alone would have been fine, is not confirmed either.
    assert [(r.id, r.face_id) for r in _active(db_session, w.photo.id)] == \
        [(r.id, r.face_id) for r in before]


def test_bulk_confirm_never_assigns_one_person_to_two_selected_faces(app, db_session):
    w = build_world(db_session, app)
    twin = add_face(db_session, w.photo, (500, 300, 560, 370), matched=w.biden, distance=0.44)
    db_session.commit()
    with pytest.raises(InvalidInput, match="same person"):
        _bulk(db_session, w, [w.obama_face.id, w.biden_face.id, twin.id], "confirm")
    db_session.rollback()
    assert _active(db_session, w.photo.id) == []


def test_bulk_of_another_schools_face_is_not_found_and_changes_nothing(app, db_session):
    w = build_world(db_session, app)
    other = build_world(db_session, app)
    db_session.commit()
    with pytest.raises(NotFound):
        _bulk(db_session, w, [w.obama_face.id, other.biden_face.id], "not_face")
    db_session.rollback()
    with pytest.raises(NotFound):  # the other school's photo itself
        decide_faces(db_session, actor=w.actor, school_id=w.school.id, photo_id=other.photo.id,
                     face_ids=[other.biden_face.id], action="not_face", expected_version=None,
                     now=utcnow())
    db_session.rollback()
    assert _active(db_session, w.photo.id) == [] and _active(db_session, other.photo.id) == []


def test_bulk_on_an_older_version_is_a_conflict_and_records_nothing(app, db_session):
    w = build_world(db_session, app)
    db_session.commit()
    seen = w.photo.version
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.obama_face.id,
                  kind="confirm", expected_version=seen, now=utcnow())
    db_session.commit()
    with pytest.raises(ConflictError):
        _bulk(db_session, w, [w.obama_face.id, w.biden_face.id], "not_face", version=seen)
    db_session.rollback()
    assert [(r.face_id, r.kind) for r in _active(db_session, w.photo.id)] == \
        [(w.obama_face.id, "confirm")]


def test_keep_blurred_is_a_decision_that_keeps_unknown_faces_blurred(app, db_session):
    w = build_world(db_session, app)
    unknown = add_face(db_session, w.photo, (500, 300, 560, 370))
    consent(db_session, w, w.biden, {"website.photo"}, at=APPROVED_AT - timedelta(days=2))
    db_session.commit()
    _bulk(db_session, w, [unknown.id, w.biden_face.id], "keep_blurred")
    db_session.commit()
    reviews = {r.face_id: r for r in _active(db_session, w.photo.id)}
    assert {f: (r.kind, r.person_id) for f, r in reviews.items()} == {
        unknown.id: ("not_person", None), w.biden_face.id: ("not_person", None)}
    decisions = decide_channels(db_session, resolve_faces(db_session, w.photo.id), ["website"],
                             APPROVED_AT.date())["website"]
    by_face = {d.resolved.face.id: d.decision for d in decisions}
    # Biden has consent, but the reviewer kept his face blurred: it is not shown.
    assert by_face[unknown.id] == "blur_unknown" and by_face[w.biden_face.id] == "blur_unknown"


def test_keep_blurred_refuses_identified_faces_instead_of_undoing_them(app, db_session):
    w = build_world(db_session, app)
    db_session.commit()
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.obama_face.id,
                  kind="confirm", expected_version=None, now=utcnow())
    db_session.commit()
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.biden_face.id,
                  kind="external_adult", note="Photographer's assistant, consent on file",
                  expected_version=None, now=utcnow())
    db_session.commit()
    for face in (w.obama_face, w.biden_face):
        with pytest.raises(InvalidInput, match="already identified"):
            _bulk(db_session, w, [face.id], "keep_blurred")
        db_session.rollback()
    assert sorted((r.face_id, r.kind) for r in _active(db_session, w.photo.id)) == sorted(
        [(w.obama_face.id, "confirm"), (w.biden_face.id, "external_adult")])


def test_bulk_refuses_unknown_actions_and_empty_selections(app, db_session):
    w = build_world(db_session, app)
    db_session.commit()
    with pytest.raises(InvalidInput):
        _bulk(db_session, w, [w.obama_face.id], "show")
    with pytest.raises(InvalidInput):
        _bulk(db_session, w, [], "not_face")
    unknown = add_face(db_session, w.photo, (500, 300, 560, 370))
    db_session.commit()
    with pytest.raises(InvalidInput, match="no suggestion"):
        _bulk(db_session, w, [unknown.id], "confirm")
