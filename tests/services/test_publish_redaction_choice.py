"""A reviewer's stronger redaction: honoured by the preview, kept across reprocessing, audited."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from consentflow.errors import InvalidInput
from consentflow.models import AuditEvent, Face
from consentflow.publish.redact import head_region
from consentflow.publish.redaction import redaction_choices, set_face_redaction
from consentflow.publish.service import preview_derivative
from consentflow.review.rules import box_of, reattach_reviews, resolve_faces
from tests.services.test_publish_support import APPROVED_AT, add_face, add_photo, build_world, confirm_both, consent

pytestmark = [pytest.mark.slow]


def _preview(db_session, w) -> np.ndarray:
    data = preview_derivative(db_session, school_id=w.school.id, photo_id=w.photo.id,
                              channel="social_media", storage=w.storage, now=APPROVED_AT)
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def test_solid_redaction_is_honoured_by_the_preview(app, db_session):
    w = build_world(db_session, app)
    consent(db_session, w, w.obama, {"social_media.photo"}, at=APPROVED_AT - timedelta(days=5))
    confirm_both(db_session, w)
    standard = _preview(db_session, w)
    set_face_redaction(db_session, actor=w.actor, school_id=w.school.id,
                       face_id=w.biden_face.id, mode="solid", now=APPROVED_AT)
    solid = _preview(db_session, w)
    region = head_region(box_of(w.biden_face), w.photo.width, w.photo.height, "solid")
    inner = (slice(region.top + 16, region.bottom - 16), slice(region.left + 16, region.right - 16))
    # A flat fill (JPEG leaves a few levels of noise inside), over a larger area than the blur.
    assert np.abs(solid[inner] - 128).max() <= 8
    assert np.abs(standard[inner] - 128).max() > 30
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "face.redaction_set"))
    assert event.details["mode"] == "solid"
    with pytest.raises(InvalidInput):
        set_face_redaction(db_session, actor=w.actor, school_id=w.school.id,
                           face_id=w.biden_face.id, mode="none", now=APPROVED_AT)


def test_redaction_choice_survives_reprocessing(app, db_session):
    w = build_world(db_session, app)
    set_face_redaction(db_session, actor=w.actor, school_id=w.school.id,
                       face_id=w.biden_face.id, mode="wide", now=APPROVED_AT)
    # Reprocessing replaces detector faces: the same face comes back with a new id and a
    # slightly different box.
    old = w.biden_face
    db_session.delete(old)
    db_session.flush()
    new = Face(photo_id=w.photo.id, left=old.left + 4, top=old.top - 3, right=old.right + 2,
               bottom=old.bottom + 5, source="detector", detector="centerface", score=0.9,
               match_status="unknown", candidates=[])
    db_session.add(new)
    db_session.flush()
    reattach_reviews(db_session, w.photo.id)
    choices = redaction_choices(db_session, w.photo.id, resolve_faces(db_session, w.photo.id))
    assert choices == {new.id: "wide"}


def test_a_choice_made_on_another_photo_never_applies(app, db_session):
    # Same box on a second photo of the album: its stronger redaction is that photo's own.
    w = build_world(db_session, app)
    other = add_photo(db_session, w, "bald_guys.jpg")
    twin = add_face(db_session, other, (w.obama_face.left, w.obama_face.top, w.obama_face.right,
                                        w.obama_face.bottom))
    set_face_redaction(db_session, actor=w.actor, school_id=w.school.id, face_id=twin.id, mode="solid",
                       now=APPROVED_AT)
    db_session.commit()
    assert redaction_choices(db_session, w.photo.id, resolve_faces(db_session, w.photo.id)) == {}
    assert redaction_choices(db_session, other.id, resolve_faces(db_session, other.id)) == {twin.id: "solid"}
