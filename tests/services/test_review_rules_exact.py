"""The review rules' whole outcome on a real database: order, suggestions, consent record kept.

Mutation testing (bench/mutate.py) showed that review.rules could lose the
consent record behind a shown face (the publication snapshot names it), stop
at a "not a face" instead of skipping it, drop the matcher's suggestion or a
face's candidates, or misread "external adult", with every test green. Each
field is pinned here against real rows.
"""

from __future__ import annotations

from datetime import date

from consentflow.publish.redact import PlannedFace
from consentflow.review.rules import (
    box_of,
    channel_of,
    decide_photo,
    people_names,
    planned,
    purpose_key,
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

    decisions = decide_photo(db_session, resolve_faces(db_session, w.photo.id),
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
    web = decide_photo(db_session, resolve_faces(db_session, video.id), ["website"], ON)["website"]
    assert [(d.decision, d.basis) for d in web] == [("blur_no_consent", "no_consent")]
    on_photo = decide_photo(db_session, resolve_faces(db_session, w.photo.id), ["website"], ON)["website"]
    assert [d.basis for d in on_photo] == ["awaiting_confirmation", "no_consent"]


def test_purpose_keys_and_channels() -> None:
    assert purpose_key("website") == "website.photo"
    assert purpose_key("website", "video") == "website.video"
    assert channel_of("website.photo") == "website"
    assert channel_of("social_media.video") == "social_media"
