"""Approve and publish on a real photo with a real database and the real engine."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from consentflow.audit.service import verify_chain
from consentflow.errors import InvalidInput, InvalidState
from consentflow.faces.engine import EngineSettings, detect_faces, encode_faces, prepare_image
from consentflow.faces.matching import MatchThresholds
from consentflow.models import AuditEvent, PhotoPurpose, Publication
from consentflow.publish.service import PublicationRefused, approve_purpose, publish_photo
from consentflow.review.service import record_review
from tests.services.test_publish_support import (
    APPROVED_AT,
    FACES,
    PUBLISH_AT,
    build_world,
    confirm_both,
    consent,
)

pytestmark = [pytest.mark.slow]
SOCIAL = "social_media"


def _encodings(image: Image.Image) -> list:
    settings = EngineSettings()
    prepared = prepare_image(image, settings.max_side)
    return encode_faces(prepared, detect_faces(prepared, settings), settings)


@pytest.fixture(scope="module")
def biden_reference():
    encodings = _encodings(Image.open(FACES / "biden.jpg"))
    assert len(encodings) == 1
    return encodings[0]


def _approve(db_session, w, channel=SOCIAL, at=APPROVED_AT):
    return approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                           channel=channel, expected_version=None, now=at)


def _publish(db_session, w, channel=SOCIAL, at=PUBLISH_AT):
    return publish_photo(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                         channel=channel, storage=w.storage, now=at,
                         tolerance=MatchThresholds.defaults().loose)


def test_face_without_consent_is_blurred_and_not_recognisable(app, db_session, biden_reference):
    w = build_world(db_session, app)
    consent(db_session, w, w.obama, {"social_media.photo"}, at=APPROVED_AT - timedelta(days=30))
    consent(db_session, w, w.biden, {"website.photo"}, at=APPROVED_AT - timedelta(days=30))
    confirm_both(db_session, w)
    assert _approve(db_session, w).status == "approved"
    publication = _publish(db_session, w)
    db_session.commit()

    data = w.storage.read(publication.derivative_key)
    assert hashlib.sha256(data).hexdigest() == publication.derivative_sha256
    published = Image.open(io.BytesIO(data))
    import numpy as np

    distances = [float(np.linalg.norm(e - biden_reference)) for e in _encodings(published)]
    assert distances, "Obama's face should still be there"
    assert min(distances) >= MatchThresholds.defaults().loose, distances
    # The original does contain Biden for our matcher (so this test can fail).
    original = [float(np.linalg.norm(e - biden_reference))
                for e in _encodings(Image.open(FACES / "two_people.jpg"))]
    assert min(original) < MatchThresholds.defaults().loose

    by_person = {e["person_id"]: e for e in publication.snapshot}
    assert by_person[w.biden.id]["decision"] == "blur_no_consent"
    assert by_person[w.biden.id]["consent_record_id"] is None
    assert by_person[w.obama.id]["decision"] == "show"
    assert publication.maker_credit == "J. Fotograaf"
    assert w.photo.state == "published"
    assert verify_chain(db_session).ok


def test_snapshot_names_the_consent_record_in_force(app, db_session):
    w = build_world(db_session, app)
    consent(db_session, w, w.obama, {"social_media.photo"}, at=APPROVED_AT - timedelta(days=40))
    newer = consent(db_session, w, w.obama, {"social_media.photo", "website.photo"},
                    at=APPROVED_AT - timedelta(days=10))
    confirm_both(db_session, w)
    _approve(db_session, w)
    publication = _publish(db_session, w)
    entry = next(e for e in publication.snapshot if e["person_id"] == w.obama.id)
    assert entry["consent_record_id"] == newer.id
    assert entry["name"] == "Barack Obama"
    biden = next(e for e in publication.snapshot if e["person_id"] == w.biden.id)
    assert biden["decision"] == "blur_no_consent"  # no record at all: no consent


def test_withdrawal_between_approval_and_publish_is_refused(app, db_session):
    w = build_world(db_session, app)
    consent(db_session, w, w.obama, {"social_media.photo"}, at=APPROVED_AT - timedelta(days=30))
    confirm_both(db_session, w)
    _approve(db_session, w)
    db_session.commit()
    # The family withdraws after approval, before publication.
    consent(db_session, w, w.obama, set(), at=APPROVED_AT + timedelta(hours=2))
    db_session.commit()

    with pytest.raises(PublicationRefused) as refused:
        _publish(db_session, w)
    db_session.commit()  # the boundary keeps the send-back

    assert "changed since approval" in refused.value.message
    assert db_session.scalars(select(Publication)).all() == []
    assert w.photo.state == "needs_review"
    pp = db_session.scalar(select(PhotoPurpose).where(PhotoPurpose.photo_id == w.photo.id))
    assert pp.status == "pending"
    # The reason is kept once, as a code the review page translates.
    assert pp.refusal == {"code": "consent_changed", "leaks": []}
    assert db_session.scalar(select(AuditEvent).where(
        AuditEvent.action == "photo.publication_refused")) is not None


def test_unconfirmed_automatic_match_is_blurred(app, db_session):
    w = build_world(db_session, app)
    for person in (w.obama, w.biden):
        consent(db_session, w, person, {"social_media.photo"}, at=APPROVED_AT - timedelta(days=5))
    # Only Obama is confirmed; Biden's automatic match is a suggestion.
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.obama_face.id,
                  kind="confirm", expected_version=None, now=APPROVED_AT)
    _approve(db_session, w)
    publication = _publish(db_session, w)
    biden = next(e for e in publication.snapshot if e["face_id"] == w.biden_face.id)
    assert biden["person_id"] is None
    assert biden["decision"] == "blur_unknown"
    assert biden["name"] == "unknown, blurred"


def test_large_blurred_face_blocks_the_purpose(app, db_session):
    w = build_world(db_session, app)
    w.school.block_face_share = 0.02  # Biden's face is ~5% of the photo
    consent(db_session, w, w.obama, {"social_media.photo"}, at=APPROVED_AT - timedelta(days=5))
    confirm_both(db_session, w)
    pp = _approve(db_session, w)
    assert pp.status == "blocked"
    assert "covers" in pp.reason
    with pytest.raises(InvalidState):
        _publish(db_session, w)


def test_publish_needs_approval_for_that_purpose(app, db_session):
    w = build_world(db_session, app)
    confirm_both(db_session, w)
    _approve(db_session, w, channel="website")
    with pytest.raises(InvalidState):
        _publish(db_session, w, channel=SOCIAL)


def test_external_adult_needs_a_note_and_is_shown(app, db_session):
    w = build_world(db_session, app)
    with pytest.raises(InvalidInput):
        record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.biden_face.id,
                      kind="external_adult", note="  ", expected_version=None, now=APPROVED_AT)
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.biden_face.id,
                  kind="external_adult", note="Guest speaker; consent form kept by the office",
                  expected_version=None, now=APPROVED_AT)
    _approve(db_session, w)
    publication = _publish(db_session, w)
    entry = next(e for e in publication.snapshot if e["face_id"] == w.biden_face.id)
    assert entry["decision"] == "show" and entry["basis"] == "external_adult"
    obama = next(e for e in publication.snapshot if e["face_id"] == w.obama_face.id)
    assert obama["decision"] == "blur_no_consent"  # suggested, no consent: blurred either way
    assert obama["person_id"] is None and obama["name"] == "unknown, blurred"
