"""The review rules' whole outcome on a real database: order, suggestions, consent record kept.

Mutation testing (bench/mutate.py) showed that review.rules could lose the
consent record behind a shown face (the publication snapshot names it), stop
at a "not a face" instead of skipping it, drop the matcher's suggestion or a
face's candidates, or misread "external adult", with every test green. Each
field is pinned here against real rows.
"""

from __future__ import annotations

from datetime import date

from consentflow.review.rules import decide_photo, resolve_faces
from consentflow.review.service import record_review
from tests.services.test_publish_support import APPROVED_AT, add_face, build_world, consent

ON = date(2026, 10, 6)


def test_resolved_faces_in_reading_order_with_suggestions(app, db_session):
    w = build_world(db_session, app)
    stranger = add_face(db_session, w.photo, (100, 300, 160, 370))
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.biden_face.id,
                  kind="external_adult", note="burgemeester", expected_version=None, now=APPROVED_AT)
    db_session.commit()

    resolved = resolve_faces(db_session, w.photo.id)
    # Top first, then left: Obama (top 21), Biden (top 39), the stranger (top 300).
    assert [r.face.id for r in resolved] == [w.obama_face.id, w.biden_face.id, stranger.id]
    obama, biden, other = resolved
    assert obama.suggested_person_id == w.obama.id and obama.person_id is None
    assert obama.candidates == ({"person_id": w.obama.id, "distance": 0.35},)
    assert not obama.external and not obama.not_face and obama.review is None
    assert biden.external and not biden.not_face and biden.person_id is None
    assert other.suggested_person_id is None and other.candidates == ()


def test_decisions_keep_the_consent_record_and_skip_only_non_faces(app, db_session):
    w = build_world(db_session, app)
    stranger = add_face(db_session, w.photo, (100, 10, 160, 80))  # above both: decided first
    obama_yes = consent(db_session, w, w.obama, {"website.photo"}, at=APPROVED_AT)
    consent(db_session, w, w.biden, {"website.photo"}, at=APPROVED_AT)
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=stranger.id,
                  kind="not_face", expected_version=None, now=APPROVED_AT)
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.obama_face.id,
                  kind="confirm", expected_version=None, now=APPROVED_AT)
    db_session.commit()

    decisions = decide_photo(db_session, resolve_faces(db_session, w.photo.id),
                             ["website", "social_media"], ON)
    web = decisions["website"]
    # The non-face is left out; the faces after it are still decided.
    assert [(d.resolved.face.id, d.decision, d.consent_record_id, d.basis) for d in web] == [
        (w.obama_face.id, "show", obama_yes.id, "consent"),
        (w.biden_face.id, "blur_unknown", None, "awaiting_confirmation"),
    ]
    social = decisions["social_media"]
    assert [(d.decision, d.consent_record_id, d.basis) for d in social] == [
        ("blur_no_consent", None, "no_consent"), ("blur_no_consent", None, "no_consent")]
