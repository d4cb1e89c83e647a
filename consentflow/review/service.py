"""Reviewer decisions on faces and per-purpose blocks (SPEC §4.3-4.4).

Decisions are FaceReview rows, kept apart from detections: reprocessing a
photo replaces detector faces but never a decision (see rules.reattach_reviews).
Every change bumps the photo's version; a reviewer acting on an older
version gets a conflict instead of silently overwriting a colleague.
A change of decisions voids approvals that were not yet published:
what was approved is no longer what would be published.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from consentflow.audit.service import Actor, record_event
from consentflow.errors import ConflictError, InvalidInput, InvalidState, NotFound
from consentflow.models import Face, FaceReview, Person, Photo, PhotoPurpose, Publication
from consentflow.photos.boxes import Box
from consentflow.photos.imaging import is_video_type
from consentflow.review.rules import IDENTIFYING_KINDS, active_reviews, reattach_reviews

REVIEWABLE_STATES = frozenset({"needs_review", "approved", "published"})
CONFLICT_MESSAGE = "Someone else changed this photo in the meantime; reload the page and try again."


def get_photo(session: Session, school_id: int, photo_id: int) -> Photo:
    photo = session.get(Photo, photo_id)
    if photo is None or photo.school_id != school_id:
        raise NotFound("Photo not found.")
    return photo


def check_version(session: Session, photo: Photo, expected_version: int | None) -> None:
    """Refuse when the reviewer saw an older version; then bump the version."""
    if expected_version is not None and photo.version != expected_version:
        raise ConflictError(CONFLICT_MESSAGE)
    # An UPDATE ... WHERE version = <seen> makes a concurrent writer fail at flush.
    flag_modified(photo, "state")
    try:
        session.flush()
    except StaleDataError as err:
        raise ConflictError(CONFLICT_MESSAGE) from err


def void_unpublished_approvals(session: Session, photo: Photo, reason: str,
                               now: datetime, only: Collection[str] | None = None) -> list[str]:
    """Approved-but-unpublished purposes go back to pending; the photo back to review.

    ``only`` limits this to some purposes (a withdrawal of social media must
    leave the website approval alone); the photo stays approved while any
    approval is left.
    """
    published = set(session.scalars(
        select(Publication.purpose).where(Publication.photo_id == photo.id,
                                          Publication.taken_down_at.is_(None))
    ))
    voided = []
    remaining = False
    for pp in session.scalars(select(PhotoPurpose).where(PhotoPurpose.photo_id == photo.id)):
        if pp.status == "approved" and pp.purpose not in published and (
                only is None or pp.purpose in only):
            pp.status, pp.reason, pp.decided_at, pp.decided_by_id = "pending", reason, now, None
            voided.append(pp.purpose)
        elif pp.status in ("approved", "publishing"):
            remaining = True
    if photo.state == "approved" and (only is None or not remaining):
        photo.state = "needs_review"
        photo.failure_reason = reason
    return voided


def _face(session: Session, school_id: int, face_id: int) -> tuple[Face, Photo]:
    face = session.get(Face, face_id)
    if face is None:
        raise NotFound("Face not found.")
    photo = get_photo(session, school_id, face.photo_id)
    return face, photo


def _person(session: Session, school_id: int, person_id: int | None) -> Person:
    person = session.get(Person, person_id) if person_id else None
    if person is None or person.school_id != school_id or person.erased_at is not None:
        raise InvalidInput("Choose a person of this school.")
    return person


def _check_once_per_photo(session: Session, photo_id: int, face_id: int, person_id: int) -> None:
    for review in active_reviews(session, photo_id):
        if (review.kind in IDENTIFYING_KINDS and review.person_id == person_id
                and review.face_id != face_id):
            raise InvalidInput(
                "This person is already assigned to another face in this photo; "
                "undo that decision first."
            )


def record_review(
    session: Session,
    *,
    actor: Actor,
    school_id: int,
    face_id: int,
    kind: str,
    person_id: int | None = None,
    note: str | None = None,
    expected_version: int | None,
    now: datetime,
) -> FaceReview:
    """Record a reviewer's decision on a face; one person at most once per photo."""
    face, photo = _face(session, school_id, face_id)
    if photo.state not in REVIEWABLE_STATES:
        raise InvalidState("This photo is not open for review.")
    note = (note or "").strip() or None
    if kind == "confirm":
        if face.matched_person_id is None:
            raise InvalidInput("There is no suggested person to confirm; assign a person instead.")
        person_id = face.matched_person_id
    elif kind == "assign":
        person_id = _person(session, school_id, person_id).id
    elif kind == "not_person":
        person_id = face.matched_person_id or person_id
    elif kind == "external_adult":
        if not note:
            raise InvalidInput("A note is required: who is this adult and where was consent recorded?")
        person_id = None
    elif kind == "not_face":
        person_id = None
    else:
        raise InvalidInput("Unknown decision.")
    check_version(session, photo, expected_version)
    reattach_reviews(session, photo.id)
    if kind in IDENTIFYING_KINDS and person_id is not None:
        _check_once_per_photo(session, photo.id, face.id, person_id)
    voided = void_unpublished_approvals(session, photo, "Face decisions changed after approval.",
                                        now)
    return write_review(session, actor=actor, photo=photo, face=face, kind=kind,
                        person_id=person_id, note=note, now=now,
                        details={"voided_approvals": voided})


def write_review(session: Session, *, actor: Actor, photo: Photo, face: Face, kind: str,
                 person_id: int | None, note: str | None, now: datetime,
                 details: dict[str, object] | None = None,
                 active: list[FaceReview] | None = None) -> FaceReview:
    """Replace the face's active decision and audit it (one event per face decision).

    The caller has checked the rules and the photo version. ``active`` may
    pass the photo's active decisions already loaded (bulk actions).
    """
    for old in active if active is not None else active_reviews(session, photo.id):
        if old.face_id == face.id and old.revoked_at is None:
            old.revoked_at = now
    review = FaceReview(
        photo_id=photo.id, face_id=face.id, kind=kind, person_id=person_id,
        left=face.left, top=face.top, right=face.right, bottom=face.bottom,
        note=note, reviewer_id=actor.id, created_at=now,
    )
    session.add(review)
    session.flush()
    record_event(
        session, actor=actor, action=f"face.{kind}", object_type="face", object_id=face.id,
        school_id=photo.school_id,
        details={"photo_id": photo.id, "review_id": review.id, **(details or {})},
        personal={"note": note} if note else None,
        subject_ids=[person_id] if person_id else None, now=now,
    )
    return review


def undo_review(session: Session, *, actor: Actor, school_id: int, face_id: int,
                expected_version: int | None, now: datetime) -> None:
    """Withdraw the current decision on a face: it is back to the detector's suggestion."""
    face, photo = _face(session, school_id, face_id)
    check_version(session, photo, expected_version)
    subjects = []
    for old in active_reviews(session, photo.id):
        if old.face_id == face.id:
            old.revoked_at = now
            if old.person_id:
                subjects.append(old.person_id)
    void_unpublished_approvals(session, photo, "Face decisions changed after approval.", now)
    record_event(session, actor=actor, action="face.review_undone", object_type="face",
                 object_id=face.id, school_id=school_id, details={"photo_id": photo.id},
                 subject_ids=subjects, now=now)


def draw_face(
    session: Session,
    *,
    actor: Actor,
    school_id: int,
    photo_id: int,
    box: Box,
    person_id: int | None,
    expected_version: int | None,
    now: datetime,
) -> Face:
    """Add a face the detector missed; with a person it is assigned at once, else it is unknown."""
    photo = get_photo(session, school_id, photo_id)
    if photo.state not in REVIEWABLE_STATES:
        raise InvalidState("This photo is not open for review.")
    if is_video_type(photo.media_type):
        # A box on one frame cannot follow a face through time: deny rather than half-blur.
        raise InvalidInput("Faces cannot be drawn on a video; process the video again or "
                           "reject it.")
    left, right = sorted((max(0, box.left), min(photo.width, box.right)))
    top, bottom = sorted((max(0, box.top), min(photo.height, box.bottom)))
    if right - left < 4 or bottom - top < 4:
        raise InvalidInput("Draw a box around the face (at least a few pixels wide).")
    if person_id is not None:
        _person(session, school_id, person_id)
    check_version(session, photo, expected_version)
    face = Face(photo_id=photo.id, left=left, top=top, right=right, bottom=bottom,
                source="reviewer", detector="reviewer", score=1.0, match_status="unknown",
                candidates=[], created_at=now)
    session.add(face)
    session.flush()
    # The drawn box is itself a decision ("there is a face here"), kept across reprocessing.
    kind = "assign" if person_id is not None else "not_person"
    if person_id is not None:
        _check_once_per_photo(session, photo.id, face.id, person_id)
    session.add(FaceReview(photo_id=photo.id, face_id=face.id, kind=kind, person_id=person_id,
                           left=left, top=top, right=right, bottom=bottom,
                           note="drawn by reviewer", reviewer_id=actor.id, created_at=now))
    void_unpublished_approvals(session, photo, "A face was added after approval.", now)
    session.flush()
    record_event(session, actor=actor, action="face.drawn", object_type="face", object_id=face.id,
                 school_id=school_id, details={"photo_id": photo.id,
                                               "box": [left, top, right, bottom]},
                 subject_ids=[person_id] if person_id else None, now=now)
    return face


def set_purpose_block(
    session: Session,
    *,
    actor: Actor,
    school_id: int,
    photo_id: int,
    channel: str,
    blocked: bool,
    reason: str | None,
    expected_version: int | None,
    now: datetime,
) -> PhotoPurpose:
    """Block a photo for one purpose (e.g. the unconsented person is the subject), or unblock it."""
    photo = get_photo(session, school_id, photo_id)
    reason = (reason or "").strip() or None
    if blocked and not reason:
        raise InvalidInput("Give a reason for blocking.")
    check_version(session, photo, expected_version)
    pp = purpose_row(session, photo.id, channel)
    pp.status = "blocked" if blocked else "pending"
    pp.reason, pp.decided_by_id, pp.decided_at = reason, actor.id, now
    session.flush()
    record_event(session, actor=actor, action="photo.blocked" if blocked else "photo.unblocked",
                 object_type="photo", object_id=photo.id, school_id=school_id,
                 details={"purpose": channel, "reason": reason}, now=now)
    return pp


def reject_photo(session: Session, *, actor: Actor, school_id: int, photo_id: int, reason: str,
                 expected_version: int | None, now: datetime) -> Photo:
    """Reject a photo: it is never published; retention deletes the original later."""
    photo = get_photo(session, school_id, photo_id)
    if photo.state not in {"needs_review", "approved", "failed"}:
        raise InvalidState("Only photos that are not published can be rejected.")
    check_version(session, photo, expected_version)
    photo.state = "rejected"
    photo.failure_reason = (reason or "").strip() or None
    photo.processed_at = photo.processed_at or now
    session.flush()
    record_event(session, actor=actor, action="photo.rejected", object_type="photo",
                 object_id=photo.id, school_id=school_id, details={"at": now.isoformat()}, now=now)
    return photo


def purpose_row(session: Session, photo_id: int, channel: str) -> PhotoPurpose:
    pp = session.scalar(select(PhotoPurpose).where(PhotoPurpose.photo_id == photo_id,
                                                   PhotoPurpose.purpose == channel))
    if pp is None:
        pp = PhotoPurpose(photo_id=photo_id, purpose=channel, status="pending")
        session.add(pp)
        session.flush()
    return pp


def search_people(session: Session, school_id: int, query: str, limit: int = 15) -> list[Person]:
    """People of this school whose name, number or class matches (for "assign")."""
    query = (query or "").strip().lower()
    if not query:
        return []
    stmt = select(Person).where(Person.school_id == school_id, Person.erased_at.is_(None))
    for word in query.split()[:4]:
        like = f"%{word}%"
        stmt = stmt.where(or_(
            func.lower(Person.first_name).like(like), func.lower(Person.last_name).like(like),
            func.lower(Person.external_id).like(like), func.lower(Person.group_name).like(like),
        ))
    return list(session.scalars(stmt.order_by(Person.last_name, Person.first_name).limit(limit)))
