"""A reviewer's stronger redaction for one face: the remedy for a refused publication.

Stored as FaceRedaction rows with the box they were chosen on, so a choice
applies to the face that overlaps that box best (the same rule that
re-attaches reviewer decisions after reprocessing). Both the published
derivative and the reviewer's preview use ``redaction_choices``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.errors import InvalidInput, NotFound
from consentflow.models import Face, FaceRedaction
from consentflow.photos.boxes import Box
from consentflow.publish.redact import REDACTIONS, Redaction
from consentflow.review.rules import REATTACH_IOU, ResolvedFace, box_of
from consentflow.review.service import get_photo


def _active(session: Session, photo_id: int) -> list[FaceRedaction]:
    return list(session.scalars(
        select(FaceRedaction)
        .where(FaceRedaction.photo_id == photo_id, FaceRedaction.revoked_at.is_(None))
        .order_by(FaceRedaction.id)
    ))


def _owner(choice: FaceRedaction, boxes: dict[int, Box]) -> int | None:
    """The face a choice belongs to: its own face if still there, else the best overlap."""
    if choice.face_id in boxes:
        return choice.face_id
    target = box_of_choice(choice)
    best, best_iou = None, 0.0
    for face_id, box in boxes.items():
        iou = target.iou(box)
        if iou > best_iou:
            best, best_iou = face_id, iou
    return best if best_iou >= REATTACH_IOU else None


def box_of_choice(choice: FaceRedaction) -> Box:
    return Box(choice.left, choice.top, choice.right, choice.bottom)


def redaction_choices(session: Session, photo_id: int,
                      faces: Sequence[ResolvedFace]) -> dict[int, Redaction]:
    """The redaction chosen for each face id of the photo (faces without a choice: absent)."""
    boxes = {r.face.id: r.box for r in faces}
    chosen: dict[int, Redaction] = {}
    for choice in _active(session, photo_id):  # later choices win
        owner = _owner(choice, boxes)
        if owner is not None and choice.mode in REDACTIONS:
            chosen[owner] = choice.mode  # type: ignore[assignment]
    return {face_id: mode for face_id, mode in chosen.items() if mode != "standard"}


def set_face_redaction(session: Session, *, actor: Actor, school_id: int, face_id: int,
                       mode: str, now: datetime) -> FaceRedaction:
    """Choose how strongly a face is redacted; replaces the face's earlier choice (audited)."""
    if mode not in REDACTIONS:
        raise InvalidInput("Unknown redaction.")
    face = session.get(Face, face_id)
    if face is None:
        raise NotFound("Face not found.")
    photo = get_photo(session, school_id, face.photo_id)
    boxes = {face.id: box_of(face)}
    for earlier in _active(session, photo.id):
        if _owner(earlier, boxes) == face.id:
            earlier.revoked_at = now
    choice = FaceRedaction(photo_id=photo.id, face_id=face.id, mode=mode, left=face.left,
                           top=face.top, right=face.right, bottom=face.bottom,
                           created_by_id=actor.id, created_at=now)
    session.add(choice)
    session.flush()
    record_event(session, actor=actor, action="face.redaction_set", object_type="face",
                 object_id=face.id, school_id=school_id, now=now,
                 details={"photo_id": photo.id, "mode": mode,
                          "box": [face.left, face.top, face.right, face.bottom]})
    return choice
