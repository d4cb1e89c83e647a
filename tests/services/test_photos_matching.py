"""Matching and deny-by-default decisions end to end (real dlib, real images, real consent rows)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from consentflow.consent.effective import consent_map
from consentflow.models import Face, FaceReview
from consentflow.photos.decisions import FaceFacts, ReviewFacts, decide_photo
from tests import factories
from tests.jobs.photo_helpers import TODAY, enrol, face_bytes, faces_of, give_consent, run_jobs, side_by_side, upload

pytestmark = pytest.mark.slow
WEB = "website.photo"


def _facts(session, photo_id: int) -> list[FaceFacts]:
    result = []
    for face in faces_of(session, photo_id):
        review = session.scalar(select(FaceReview).where(FaceReview.face_id == face.id,
                                                         FaceReview.revoked_at.is_(None))
                                .order_by(FaceReview.id.desc()).limit(1))
        result.append(FaceFacts(face.id, face.match_status, face.matched_person_id,
                                ReviewFacts(review.kind, review.person_id, review.note)
                                if review else None))
    return result


def _decide(session, photo_id: int, mode: str = "all"):
    facts = _facts(session, photo_id)
    people = {f.matched_person_id for f in facts if f.matched_person_id} | {
        f.review.person_id for f in facts if f.review and f.review.person_id}
    consent = consent_map(session, sorted(people), [WEB], TODAY)
    return decide_photo(facts, [WEB], consent, auto_matching=mode != "off")


def _confirm(session, face: Face) -> None:
    session.add(FaceReview(photo_id=face.photo_id, face_id=face.id, kind="confirm",
                           person_id=face.matched_person_id, left=face.left, top=face.top,
                           right=face.right, bottom=face.bottom))
    session.commit()


@pytest.fixture
def school(db_session):
    school = factories.school(db_session, biometric_mode="all")
    db_session.commit()
    return school


def test_same_person_matches_across_photos_and_different_people_do_not(app, db_session, school):
    barack = factories.person(db_session, school=school, first="Barack")
    joe = factories.person(db_session, school=school, first="Joe")
    enrol(app, db_session, school, barack, "obama.jpg")
    enrol(app, db_session, school, joe, "biden.jpg")
    album = factories.album(db_session, school=school)
    db_session.commit()
    results = upload(app, db_session, album, [("o2.jpg", face_bytes("obama2.jpg")),
                                              ("small.jpg", face_bytes("obama_small.jpg"))])
    run_jobs(app)
    for r in results:
        [face] = faces_of(db_session, r.photo_id)
        assert face.match_status == "matched" and face.matched_person_id == barack.id
        assert face.distance < app.config["MATCH_STRICT"]
        # Joe is not a candidate within the loose threshold.
        assert joe.id not in {c["person_id"] for c in face.candidates}


def test_unknown_face_is_blurred_and_flagged(app, db_session, school):
    barack = factories.person(db_session, school=school, first="Barack")
    enrol(app, db_session, school, barack, "obama.jpg")
    give_consent(db_session, barack, {WEB: True})
    album = factories.album(db_session, school=school)
    db_session.commit()
    [r] = upload(app, db_session, album, [("two.jpg", face_bytes("two_people.jpg"))])
    run_jobs(app)
    obama_face, biden_face = faces_of(db_session, r.photo_id)
    assert biden_face.match_status == "unknown" and biden_face.encoding_encrypted is None
    assert biden_face.candidates == []
    _confirm(db_session, obama_face)
    decisions = _decide(db_session, r.photo_id).faces(WEB)
    assert decisions[0].action == "show" and decisions[0].person_id == barack.id
    assert decisions[1].action == "blur_unknown" and decisions[1].flagged


def test_enrolled_student_without_consent_is_blurred(app, db_session, school):
    barack = factories.person(db_session, school=school, first="Barack")
    enrol(app, db_session, school, barack, "obama.jpg")
    give_consent(db_session, barack, {WEB: False, "social_media.photo": True})
    album = factories.album(db_session, school=school)
    db_session.commit()
    [r] = upload(app, db_session, album, [("o2.jpg", face_bytes("obama2.jpg"))])
    run_jobs(app)
    [face] = faces_of(db_session, r.photo_id)
    assert face.matched_person_id == barack.id
    [before] = _decide(db_session, r.photo_id).faces(WEB)
    assert before.action == "blur_no_consent"
    _confirm(db_session, face)  # even a reviewer's confirmation does not lift it
    [after] = _decide(db_session, r.photo_id).faces(WEB)
    assert after.action == "blur_no_consent" and after.confirmed


def test_auto_match_with_consent_is_not_shown_before_review(app, db_session, school):
    barack = factories.person(db_session, school=school, first="Barack")
    enrol(app, db_session, school, barack, "obama.jpg")
    give_consent(db_session, barack, {WEB: True})
    album = factories.album(db_session, school=school)
    db_session.commit()
    [r] = upload(app, db_session, album, [("o2.jpg", face_bytes("obama2.jpg"))])
    run_jobs(app)
    [decision] = _decide(db_session, r.photo_id).faces(WEB)
    assert decision.action == "blur_unknown" and decision.reason == "awaiting_confirmation"


def test_mode_off_blurs_everyone_and_stores_no_encodings(app, db_session, school):
    barack = factories.person(db_session, school=school, first="Barack")
    enrol(app, db_session, school, barack, "obama.jpg")
    give_consent(db_session, barack, {WEB: True})
    school.biometric_mode = "off"
    album = factories.album(db_session, school=school)
    db_session.commit()
    [r] = upload(app, db_session, album, [("two.jpg", face_bytes("two_people.jpg"))])
    run_jobs(app)
    faces = faces_of(db_session, r.photo_id)
    assert len(faces) == 2
    assert all(f.match_status == "unknown" and f.matched_person_id is None
               and f.encoding_encrypted is None for f in faces)
    assert all(d.action == "blur_unknown" for d in _decide(db_session, r.photo_id, "off").faces(WEB))


def test_one_person_at_most_once_per_photo(app, db_session, school):
    barack = factories.person(db_session, school=school, first="Barack")
    enrol(app, db_session, school, barack, "obama.jpg")
    album = factories.album(db_session, school=school)
    db_session.commit()
    [r] = upload(app, db_session, album, [("twice.jpg", side_by_side("obama2.jpg", "obama.jpg"))])
    run_jobs(app)
    faces = faces_of(db_session, r.photo_id)
    assert len(faces) == 2
    matched = [f for f in faces if f.matched_person_id == barack.id]
    assert len(matched) == 1
    other = next(f for f in faces if f is not matched[0])
    assert other.match_status == "ambiguous" and other.matched_person_id is None


def test_consented_mode_matches_only_people_with_face_matching_consent(app, db_session):
    school = factories.school(db_session, biometric_mode="all")
    barack = factories.person(db_session, school=school, first="Barack")
    joe = factories.person(db_session, school=school, first="Joe")
    give_consent(db_session, barack, {"face_matching": True})
    enrol(app, db_session, school, barack, "obama.jpg")
    enrol(app, db_session, school, joe, "biden.jpg")  # enrolled while the mode was "all"
    school.biometric_mode = "consented"
    album = factories.album(db_session, school=school)
    db_session.commit()
    [r] = upload(app, db_session, album, [("two.jpg", face_bytes("two_people.jpg"))])
    run_jobs(app)
    obama_face, biden_face = faces_of(db_session, r.photo_id)
    assert obama_face.matched_person_id == barack.id
    # Joe has no face_matching consent: not in the index, so his face is unknown.
    assert biden_face.match_status == "unknown" and biden_face.matched_person_id is None
