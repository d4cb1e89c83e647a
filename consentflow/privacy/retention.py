"""Retention (SPEC §7): report, and on request apply, what must no longer be kept.

- Face encodings of photos that were published or rejected, once the grace
  period (RETENTION_ENCODINGS_GRACE_DAYS) has passed: review is over, the
  encodings served their purpose.
- Originals of rejected photos after RETENTION_REJECTED_ORIGINALS_DAYS.
- Reference faces of people who left school, were erased, or whose consent
  in force says no to face_matching (the withdrawal handler deletes them at
  once; this catches anything recorded while that was not possible).

A dry run changes nothing; an applied run is audited per school.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.consent.effective import allows, effective_records
from consentflow.models import AuditEvent, Face, Person, Photo, Publication, ReferenceFace
from consentflow.models.consent import FACE_MATCHING
from consentflow.photos.derived import delete_derived, derived_copies
from consentflow.photos.enrol import purge_reference_faces
from consentflow.photos.storage import Storage


@dataclass
class RetentionReport:
    applied: bool
    encodings: list[int] = field(default_factory=list)  # face ids
    originals: list[int] = field(default_factory=list)  # photo ids
    reference_people: dict[int, str] = field(default_factory=dict)  # person id -> reason
    derived: int = 0  # cached thumbnails / review copies of originals that are gone

    def lines(self) -> list[str]:
        verb = "Deleted" if self.applied else "Would delete"
        return [
            f"{verb} {len(self.encodings)} face encoding(s) of published or rejected photos.",
            f"{verb} {len(self.originals)} original(s) of rejected photos.",
            f"{verb} {self.derived} cached thumbnail(s)/review copies of deleted originals.",
            f"{verb} the reference faces of {len(self.reference_people)} person(s): "
            + ", ".join(f"#{pid} ({why})" for pid, why in sorted(self.reference_people.items())),
        ]


def _finished_at(session: Session, photo: Photo) -> datetime | None:
    """When review ended: first publication, or the rejection (audited) for rejected photos."""
    if photo.state == "published":
        return session.scalar(select(func.min(Publication.published_at))
                              .where(Publication.photo_id == photo.id))
    at = session.scalar(select(func.max(AuditEvent.at)).where(
        AuditEvent.action == "photo.rejected", AuditEvent.object_type == "photo",
        AuditEvent.object_id == str(photo.id)))
    return at or photo.processed_at or photo.uploaded_at


def _reference_reasons(session: Session, now: datetime) -> dict[int, str]:
    """People whose reference faces must go: left school, erased, or said no to face_matching."""
    day = now.date()
    people = list(session.scalars(select(Person).where(
        Person.id.in_(select(ReferenceFace.person_id).distinct()))))
    records = effective_records(session, [p.id for p in people], day)
    reasons: dict[int, str] = {}
    for person in people:
        record = records.get(person.id)
        if person.left_on is not None and person.left_on <= day:
            reasons[person.id] = "left school"
        elif person.erased_at is not None:
            reasons[person.id] = "erased"
        elif record is not None and not allows(record, FACE_MATCHING):
            # A record in force that does not allow matching (an explicit no, or a form
            # version that no longer asks it) is a withdrawal: the one rule decides.
            reasons[person.id] = "withdrew face_matching"
    return reasons


def apply_retention(session: Session, *, actor: Actor, now: datetime, storage: Storage,
                    encodings_grace_days: int, rejected_originals_days: int,
                    apply: bool) -> RetentionReport:
    """Find (and with ``apply`` delete) what SPEC §7 says must go."""
    report = RetentionReport(applied=apply)
    per_school: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    grace = now - timedelta(days=encodings_grace_days)
    holding = select(Face.photo_id).where(Face.encoding_encrypted.is_not(None))
    for photo in session.scalars(select(Photo).where(
            Photo.state.in_(("published", "rejected")), Photo.id.in_(holding))):
        finished = _finished_at(session, photo)
        if finished is None or finished > grace:
            continue
        for face in session.scalars(select(Face).where(Face.photo_id == photo.id,
                                                       Face.encoding_encrypted.is_not(None))):
            report.encodings.append(face.id)
            per_school[photo.school_id]["encodings"] += 1
            if apply:
                face.encoding_encrypted = None
    cutoff = now - timedelta(days=rejected_originals_days)
    for photo in session.scalars(select(Photo).where(Photo.state == "rejected",
                                                     Photo.storage_key.is_not(None))):
        finished = _finished_at(session, photo)
        if finished is None or finished > cutoff:
            continue
        report.originals.append(photo.id)
        per_school[photo.school_id]["originals"] += 1
        if apply:
            key = photo.storage_key
            photo.storage_key = None
            session.flush()
            # Content-addressed: the same file may still be another photo's original.
            shared = session.scalar(select(Photo.id).where(Photo.storage_key == key).limit(1))
            if key and shared is None:
                storage.delete(key)
    # No resized copy outlives its original: this run's deletions and any left before.
    # A copy that another photo's kept original still serves is left (it is rebuilt on
    # demand anyway); a dry run counts exactly what the applied run would delete.
    gone = set(session.scalars(select(Photo.sha256).where(Photo.storage_key.is_(None))))
    gone |= set(session.scalars(select(Photo.sha256).where(Photo.id.in_(report.originals))))
    gone -= set(session.scalars(select(Photo.sha256).where(
        Photo.storage_key.is_not(None), Photo.id.not_in(report.originals))))
    report.derived = delete_derived(storage, gone) if apply else derived_copies(storage, gone)
    report.reference_people = _reference_reasons(session, now)
    for person_id, reason in report.reference_people.items():
        if apply:
            purge_reference_faces(session, person_id, actor, f"retention: {reason}", now)
    if apply:
        session.flush()
        for school_id, counts in per_school.items():
            record_event(session, actor=actor, action="retention.applied", object_type="school",
                         object_id=school_id, school_id=school_id, now=now, details=dict(counts))
    return report
