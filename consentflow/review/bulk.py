"""One decision for many faces of a group photo at once (SPEC §4b).

All or nothing: every selected face must belong to the photo, the photo
version must be the one the reviewer saw, and the whole selection must pass
the rules, or nothing is recorded. Each face decision is audited as its own
event (as a single click would be), marked with the bulk action that made
it: the trail per face and per person (subject access) stays the same
whether a reviewer clicked once or two hundred times.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor
from consentflow.errors import InvalidInput, InvalidState, NotFound
from consentflow.models import Face, FaceReview
from consentflow.review.rules import IDENTIFYING_KINDS, active_reviews, reattach_reviews
from consentflow.review.service import (
    REVIEWABLE_STATES,
    check_version,
    get_photo,
    void_unpublished_approvals,
    write_review,
)

# Bulk action -> the review kind it records. "keep_blurred" is the reviewer's
# decision that an unidentified face stays blurred: a "not this person"
# without a person, exactly what a drawn unknown face records.
BULK_KINDS = {"confirm": "confirm", "keep_blurred": "not_person", "not_face": "not_face"}
MAX_BULK_FACES = 1000
KNOWN_KINDS = IDENTIFYING_KINDS | {"external_adult"}


def decide_faces(
    session: Session,
    *,
    actor: Actor,
    school_id: int,
    photo_id: int,
    face_ids: Iterable[int],
    action: str,
    expected_version: int | None,
    now: datetime,
) -> list[FaceReview]:
    """Apply one decision to the selected faces of a photo: all or nothing, one person once."""
    photo = get_photo(session, school_id, photo_id)
    if photo.state not in REVIEWABLE_STATES:
        raise InvalidState("This photo is not open for review.")
    kind = BULK_KINDS.get(action)
    if kind is None:
        raise InvalidInput("Unknown decision.")
    ids = sorted(set(face_ids))
    if not ids:
        raise InvalidInput("Select at least one face first.")
    if len(ids) > MAX_BULK_FACES:
        raise InvalidInput("Select fewer faces at once.")
    faces = list(session.scalars(select(Face).where(Face.id.in_(ids)).order_by(Face.id)))
    # A face of another photo (or another school) is "not found", never acted on.
    if len(faces) != len(ids) or any(f.photo_id != photo.id for f in faces):
        raise NotFound("Face not found.")
    check_version(session, photo, expected_version)
    reattach_reviews(session, photo.id)
    active = active_reviews(session, photo.id)
    current = {r.face_id: r for r in active if r.face_id is not None}
    selected = set(ids)
    if kind == "confirm":
        _check_confirmable(faces, active, selected)
    elif kind == "not_person":
        # Never silently undo an identification (a person, or an adult from outside).
        if any(f.id in current and current[f.id].kind in KNOWN_KINDS for f in faces):
            raise InvalidInput("Some selected faces are already identified; leave them out of "
                               "the selection or undo their decision first.")
    voided = void_unpublished_approvals(session, photo, "Face decisions changed after approval.",
                                        now)
    batch = {"id": uuid.uuid4().hex[:12], "action": action, "faces": len(faces)}
    return [write_review(session, actor=actor, photo=photo, face=face, kind=kind,
                         person_id=face.matched_person_id if kind == "confirm" else None,
                         note=None, now=now, active=active,
                         details={"bulk": batch, "voided_approvals": voided})
            for face in faces]


def _check_confirmable(faces: list[Face], active: list[FaceReview], selected: set[int]) -> None:
    """Every face has a suggestion, and no person ends up on two faces of the photo."""
    if any(f.matched_person_id is None for f in faces):
        raise InvalidInput("Some selected faces have no suggestion to confirm; "
                           "assign those faces one by one.")
    # People identified on faces outside the selection keep their face.
    taken = {r.person_id for r in active if r.kind in IDENTIFYING_KINDS and r.person_id
             and r.face_id not in selected}
    seen: set[int] = set()
    for face in faces:
        person_id = face.matched_person_id
        assert person_id is not None
        if person_id in taken:
            raise InvalidInput("This person is already assigned to another face in this photo; "
                               "undo that decision first.")
        if person_id in seen:
            raise InvalidInput("Two selected faces suggest the same person; "
                               "decide those faces one by one.")
        seen.add(person_id)
