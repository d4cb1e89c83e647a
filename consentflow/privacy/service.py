"""Erasure and subject access (SPEC §5).

Erasure removes what is biometric about a person (reference faces and every
stored face encoding that is, or may be, theirs) and pseudonymises them in
the audit trail: the salted commitments of their personal values lose
value and salt, so the chain still verifies while the values are gone.
Consent records and publication records stay: they are the school's proof
of what allowed each publication.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, pseudonymise_subject, record_event
from consentflow.errors import NotFound
from consentflow.models import (
    Album,
    ConsentRecord,
    Face,
    FaceReview,
    Person,
    Photo,
    Publication,
    ReferenceFace,
    TakedownTask,
    VideoTrack,
)
from consentflow.photos.derived import delete_derived
from consentflow.photos.enrol import purge_reference_faces
from consentflow.photos.storage import Storage


def get_person(session: Session, school_id: int, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None or person.school_id != school_id:
        raise NotFound("Person not found.")
    return person


@dataclass(frozen=True)
class ErasureReport:
    reference_faces: int
    face_encodings: int
    unlinked_matches: int
    audit_events: int
    derived_copies: int = 0


def _faces_possibly_theirs(session: Session, person_id: int, school_id: int) -> list[Face]:
    """Faces matched to them, confirmed or assigned as them, or with them among the candidates."""
    reviewed = select(FaceReview.face_id).where(FaceReview.person_id == person_id,
                                                FaceReview.face_id.is_not(None))
    faces = list(session.scalars(select(Face).where(
        (Face.matched_person_id == person_id) | Face.id.in_(reviewed))))
    seen = {f.id for f in faces}
    # Candidates are JSON (no portable containment query); erasure is rare, so scan the school.
    in_school = select(Photo.id).where(Photo.school_id == school_id)
    for face in session.scalars(select(Face).where(Face.photo_id.in_(in_school))):
        if face.id not in seen and any(c.get("person_id") == person_id for c in face.candidates or []):
            faces.append(face)
    return faces


def erase_person(session: Session, *, actor: Actor, school_id: int, person_id: int,
                 now: datetime, storage: Storage) -> ErasureReport:
    """Delete the person's reference faces, face encodings and cached copies of photos that may
    show them; pseudonymise them in the audit trail."""
    person = get_person(session, school_id, person_id)
    faces = _faces_possibly_theirs(session, person.id, school_id)
    # Counted before the purge: it clears the encodings of faces matched to them itself.
    encodings = sum(1 for face in faces if face.encoding_encrypted is not None)
    references = purge_reference_faces(session, person.id, actor, "erasure", now)
    unlinked = 0
    for face in faces:
        face.encoding_encrypted = None
        # The automatic match and distances are derived from their biometrics.
        if face.matched_person_id == person.id:
            face.matched_person_id = None
            face.match_status = "unknown"
            face.distance = None
            unlinked += 1
        if any(c.get("person_id") == person.id for c in face.candidates or []):
            face.candidates = [c for c in face.candidates if c.get("person_id") != person.id]
    person.erased_at = now
    session.flush()
    # Thumbnails and review copies are rebuilt from the original on demand; none is kept.
    derived = delete_derived(storage, session.scalars(
        select(Photo.sha256).where(Photo.id.in_({face.photo_id for face in faces}))))
    pseudonymised = pseudonymise_subject(session, person.id)
    record_event(session, actor=actor, action="person.erased", object_type="person",
                 object_id=person.id, school_id=school_id, subject_ids=[person.id], now=now,
                 details={"reference_faces": references, "face_encodings": encodings,
                          "unlinked_matches": unlinked, "audit_events_pseudonymised": pseudonymised,
                          "derived_copies": derived})
    return ErasureReport(references, encodings, unlinked, pseudonymised, derived)


def remaining_encodings(session: Session, school_id: int, person_id: int) -> int:
    """Reference faces plus stored face encodings still tied to the person (0 after erasure)."""
    refs = len(session.scalars(select(ReferenceFace.id).where(
        ReferenceFace.person_id == person_id)).all())
    faces = [f for f in _faces_possibly_theirs(session, person_id, school_id) if f.encoding_encrypted is not None]
    return refs + len(faces)


# --- subject access ---------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def subject_access_data(session: Session, school_id: int, person_id: int) -> dict[str, Any]:
    """Everything the school holds about how the person's image is used (SPEC §5)."""
    person = get_person(session, school_id, person_id)
    records = session.scalars(select(ConsentRecord).where(ConsentRecord.person_id == person.id)
                              .order_by(ConsentRecord.id))
    consent = [{
        "id": r.id, "school_year": r.school_year.label, "form": str(r.form),
        "decisions": r.decisions, "signer_kind": r.signer_kind, "signer_name": r.signer_name,
        "method": r.method, "signed_at": _iso(r.signed_at), "recorded_at": _iso(r.recorded_at),
        "evidence_sha256": r.evidence_sha256, "evidence_note": r.evidence_note,
        "supersedes_id": r.supersedes_id,
    } for r in records]
    photos = []
    for face in _faces_possibly_theirs(session, person.id, school_id):
        reviews = session.scalars(select(FaceReview).where(FaceReview.face_id == face.id,
                                                           FaceReview.revoked_at.is_(None)))
        review = next(iter(reviews), None)
        identified = review is not None and review.person_id == person.id and review.kind in (
            "confirm", "assign")
        if face.matched_person_id != person.id and not identified:
            continue
        photo = session.get(Photo, face.photo_id)
        album = session.get(Album, photo.album_id) if photo else None
        track = session.scalar(select(VideoTrack).where(VideoTrack.face_id == face.id))
        photos.append({
            "photo_id": face.photo_id, "album": album.title if album else "",
            # Videos are listed here too: the seconds in which this face is on screen.
            "media": "video" if track is not None else "photo",
            "seconds": [round(track.first_time, 2), round(track.last_time, 2)] if track else None,
            "event_date": _iso(album.event_date) if album else None,
            "state": photo.state if photo else None,
            "face_box": [face.left, face.top, face.right, face.bottom],
            "automatic_match": face.matched_person_id == person.id,
            "distance": face.distance if face.matched_person_id == person.id else None,
            "reviewer_decision": review.kind if review else None,
        })
    publications = []
    for pub in session.scalars(select(Publication).where(Publication.school_id == school_id)
                               .order_by(Publication.id)):
        if not any(e.get("person_id") == person.id for e in pub.snapshot or []):
            continue
        takedowns = session.scalars(select(TakedownTask).where(
            TakedownTask.publication_id == pub.id, TakedownTask.person_id == person.id))
        publications.append({
            "id": pub.id, "photo_id": pub.photo_id, "purpose": pub.purpose,
            "media": "video" if pub.video_snapshot is not None else "photo",
            "channel_note": pub.channel_note, "published_at": _iso(pub.published_at),
            "derivative_sha256": pub.derivative_sha256, "maker_credit": pub.maker_credit,
            "taken_down_at": _iso(pub.taken_down_at),
            # Other people in the photo are not this person's data: their names are left out.
            "snapshot": [
                e if e.get("person_id") == person.id
                else {**e, "person_id": None, "name": "another person", "note": None}
                for e in pub.snapshot
            ],
            "takedowns": [{"created_at": _iso(t.created_at), "done_at": _iso(t.done_at)}
                          for t in takedowns],
        })
    refs = session.scalars(select(ReferenceFace).where(ReferenceFace.person_id == person.id))
    return {
        "person": {
            "id": person.id, "kind": person.kind, "external_id": person.external_id,
            "first_name": person.first_name, "last_name": person.last_name,
            "date_of_birth": _iso(person.date_of_birth), "group": person.group_name,
            "enrolled_on": _iso(person.enrolled_on), "left_on": _iso(person.left_on),
            "erased_at": _iso(person.erased_at),
            "guardians": [{"name": g.name, "email": g.email} for g in person.guardians],
        },
        "consent_records": consent,
        "reference_portraits": [{"id": r.id, "portrait_sha256": r.portrait_sha256,
                                 "enrolled_at": _iso(r.created_at)} for r in refs],
        "photos_matched": photos,
        "publications": publications,
    }


def subject_access_export(
    session: Session, *, actor: Actor, school_id: int, person_id: int, now: datetime,
    render_html: Callable[[dict[str, Any]], str],
) -> bytes:
    """A zip with data.json and a readable index.html; the export itself is audited."""
    data = subject_access_data(session, school_id, person_id)
    data["exported_at"] = now.isoformat()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, indent=2, ensure_ascii=False, default=str))
        archive.writestr("index.html", render_html(data))
    record_event(session, actor=actor, action="person.subject_access_export",
                 object_type="person", object_id=person_id, school_id=school_id,
                 subject_ids=[person_id], now=now,
                 details={"consent_records": len(data["consent_records"]),
                          "photos": len(data["photos_matched"]),
                          "publications": len(data["publications"])})
    return out.getvalue()
