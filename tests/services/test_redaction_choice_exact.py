"""A reviewer's stronger redaction for one face, pinned rule by rule (no rendering).

test_publish_redaction_choice.py proves that the preview and the published
file honour a choice and that it survives reprocessing; here every condition
of consentflow.publish.redaction gets a case of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from consentflow.errors import InvalidInput, NotFound
from consentflow.models import AuditEvent, Face, FaceRedaction
from consentflow.publish.redaction import redaction_choices, set_face_redaction
from consentflow.review.rules import resolve_faces
from tests.services.test_publish_support import APPROVED_AT, World, add_face, build_world

LATER = APPROVED_AT + timedelta(hours=1)


def _set(session, w: World, face: Face, mode: str, at: datetime = APPROVED_AT,
         school_id: int | None = None) -> FaceRedaction:
    return set_face_redaction(session, actor=w.actor, school_id=school_id or w.school.id, face_id=face.id,
                              mode=mode, now=at)


def _choices(session, w: World) -> dict[int, str]:
    return redaction_choices(session, w.photo.id, resolve_faces(session, w.photo.id))


def _stored(session, w: World, box: tuple[int, int, int, int], mode: str, *, face_id: int | None = None,
            choice_id: int | None = None) -> FaceRedaction:
    """A choice as it is left after reprocessing: its face may be gone, its box remains."""
    choice = FaceRedaction(id=choice_id, photo_id=w.photo.id, face_id=face_id, mode=mode, left=box[0],
                           top=box[1], right=box[2], bottom=box[3], created_at=APPROVED_AT)
    session.add(choice)
    session.flush()
    return choice


def test_a_choice_is_stored_with_its_box_and_audited(app, db_session):
    w = build_world(db_session, app)
    face = w.biden_face

    choice = _set(db_session, w, face, "solid")

    assert (choice.photo_id, choice.face_id, choice.mode) == (w.photo.id, face.id, "solid")
    assert (choice.left, choice.top, choice.right, choice.bottom) == (face.left, face.top, face.right,
                                                                     face.bottom)
    assert (choice.created_by_id, choice.created_at, choice.revoked_at) == (w.user.id, APPROVED_AT, None)
    (event,) = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "face.redaction_set")).all()
    assert (event.object_type, event.object_id, event.school_id) == ("face", str(face.id), w.school.id)
    assert event.details == {"photo_id": w.photo.id, "mode": "solid",
                             "box": [face.left, face.top, face.right, face.bottom]}
    assert event.at.astimezone(timezone.utc).replace(tzinfo=None) == APPROVED_AT.replace(tzinfo=None)


def test_a_new_choice_replaces_the_faces_earlier_one_and_no_other(app, db_session):
    w = build_world(db_session, app)
    first = _set(db_session, w, w.biden_face, "wide")
    theirs = _set(db_session, w, w.obama_face, "solid")
    # A choice made before reprocessing, on a face that is gone, whose box is this face's.
    orphan = _stored(db_session, w, (w.biden_face.left + 2, w.biden_face.top, w.biden_face.right,
                                     w.biden_face.bottom), "wide")

    second = _set(db_session, w, w.biden_face, "solid", at=LATER)

    assert first.revoked_at == LATER and orphan.revoked_at == LATER
    assert theirs.revoked_at is None and second.revoked_at is None
    assert _choices(db_session, w) == {w.biden_face.id: "solid", w.obama_face.id: "solid"}


def test_choices_are_checked(app, db_session):
    w = build_world(db_session, app)
    other = build_world(db_session, app)
    with pytest.raises(InvalidInput, match=r"^Unknown redaction\.$"):
        _set(db_session, w, w.biden_face, "pixelate")
    missing = Face(id=987654, photo_id=w.photo.id, left=0, top=0, right=1, bottom=1)
    with pytest.raises(NotFound, match=r"^Face not found\.$"):
        _set(db_session, w, missing, "wide")
    with pytest.raises(NotFound, match=r"^Photo not found\.$"):
        _set(db_session, w, w.biden_face, "wide", school_id=other.school.id)
    assert db_session.scalars(select(FaceRedaction)).all() == []


def test_the_latest_choice_wins_and_standard_means_no_choice(app, db_session):
    w = build_world(db_session, app)
    box = (w.biden_face.left, w.biden_face.top, w.biden_face.right, w.biden_face.bottom)
    # Stored with the higher id first: "later" means the higher id, not the storage order.
    _stored(db_session, w, box, "solid", choice_id=9002)
    _stored(db_session, w, box, "wide", choice_id=9001)
    assert _choices(db_session, w) == {w.biden_face.id: "solid"}
    _stored(db_session, w, box, "standard", choice_id=9003)
    assert _choices(db_session, w) == {}


def test_a_revoked_choice_no_longer_applies(app, db_session):
    w = build_world(db_session, app)
    choice = _set(db_session, w, w.biden_face, "solid")
    assert _choices(db_session, w) == {w.biden_face.id: "solid"}
    choice.revoked_at = LATER
    db_session.flush()
    assert _choices(db_session, w) == {}


def test_a_choice_follows_its_box_from_half_overlap_on_and_to_the_first_best_face(app, db_session):
    w = build_world(db_session, app)
    face = w.biden_face
    width = face.right - face.left
    # Exactly half: the face's box is half of the choice's box (IoU 0.5).
    _stored(db_session, w, (face.left, face.top, face.right + width, face.bottom), "wide")
    assert _choices(db_session, w) == {face.id: "wide"}
    # Just under half: belongs to nobody.
    w2 = build_world(db_session, app)
    _stored(db_session, w2, (w2.biden_face.left, w2.biden_face.top, w2.biden_face.right + width + 2,
                             w2.biden_face.bottom), "wide")
    assert _choices(db_session, w2) == {}
    # Two faces with the same box overlap the choice equally: the first (top, left) takes it.
    w3 = build_world(db_session, app)
    twin = add_face(db_session, w3.photo, (w3.obama_face.left, w3.obama_face.top, w3.obama_face.right,
                                           w3.obama_face.bottom))
    obama_height = w3.obama_face.bottom - w3.obama_face.top
    _stored(db_session, w3, (w3.obama_face.left, w3.obama_face.top, w3.obama_face.right,
                             w3.obama_face.bottom + obama_height), "solid")
    first = resolve_faces(db_session, w3.photo.id)[0].face.id
    assert first == w3.obama_face.id and twin.id > first
    assert _choices(db_session, w3) == {first: "solid"}
