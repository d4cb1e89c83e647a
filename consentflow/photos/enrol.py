"""Reference faces: enrolment from portraits, the per-school matching index, deletion.

Biometric mode per school (SPEC §7):
  ``all``       every person with a reference portrait is matched;
  ``consented`` only people whose effective consent says yes to ``face_matching``
                (checked at enrolment AND every time the index is built);
  ``off``       no biometric processing: no enrolment, no encodings, no matching.

Only the encoding (encrypted, see ``crypto``) and the portrait's sha256 are
kept; the portrait itself is not stored.

Deletion hooks (for the roster and consent code):
  * ``PurposesWithdrawn`` with ``face_matching`` -> ``purge_reference_faces``
    (subscribed below, runs in the withdrawing transaction);
  * ``PersonLeft`` (roster import, admin edit) -> ``purge_reference_faces``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.consent.effective import allows, consent_map
from consentflow.errors import ConsentMissing, InvalidInput, InvalidState
from consentflow.events import PersonLeft, PurposesWithdrawn, subscribe
from consentflow.faces.engine import EngineSettings, detect_faces, encode_faces, prepare_image
from consentflow.faces.matching import ReferenceIndex
from consentflow.models import Face, Person, ReferenceFace, School, utcnow
from consentflow.models.base import rows_changed
from consentflow.models.consent import FACE_MATCHING
from consentflow.photos.crypto import EncodingCipher
from consentflow.photos.imaging import ImageRejected, Limits, validate_image


@dataclass(frozen=True)
class EnrolOutcome:
    """Result of one portrait (used by the CLI's folder/zip report)."""

    label: str
    ok: bool
    message: str
    person_id: int | None = None
    reference_face_id: int | None = None


def matching_allowed(session: Session, school: School, person_id: int, today: date) -> bool:
    """May this person's face be enrolled and matched under the school's biometric mode?"""
    if school.biometric_mode == "off":
        return False
    if school.biometric_mode == "all":
        return True
    record = consent_map(session, [person_id], [FACE_MATCHING], today).get((person_id, FACE_MATCHING))
    return allows(record, FACE_MATCHING)


def enrol_portrait(
    session: Session, cipher: EncodingCipher, actor: Actor, school: School, person: Person,
    data: bytes, *, settings: EngineSettings, today: date, now: datetime,
    limits: Limits = Limits(),
) -> ReferenceFace:
    """A reference face comes from a portrait with exactly one face, within the school's mode."""
    if person.school_id != school.id:
        raise InvalidInput("The person is not in this school.")
    if school.biometric_mode == "off":
        raise InvalidState("Face matching is switched off for this school; nothing is enrolled.")
    if person.erased_at is not None or (person.left_on is not None and person.left_on <= today):
        raise InvalidState("This person has left the school; no reference face is enrolled.")
    if not matching_allowed(session, school, person.id, today):
        raise ConsentMissing("There is no consent for face matching for this person.")
    try:
        validate_image(data, limits)
    except ImageRejected as err:
        raise InvalidInput(err.message) from err
    digest = hashlib.sha256(data).hexdigest()
    duplicate = session.scalar(select(ReferenceFace.id).where(
        ReferenceFace.person_id == person.id, ReferenceFace.portrait_sha256 == digest))
    if duplicate is not None:
        raise InvalidInput("This portrait is already enrolled for this person.")
    prepared = prepare_image(io.BytesIO(data), settings.max_side)
    boxes = detect_faces(prepared, settings)
    if len(boxes) != 1:
        raise InvalidInput(
            f"A portrait must show exactly one face; this one shows {len(boxes)}."
            if boxes else "No face was found in this portrait.")
    encoding = encode_faces(prepared, boxes, settings)[0]
    ref = ReferenceFace(school_id=school.id, person_id=person.id, portrait_sha256=digest,
                        encoding_encrypted=cipher.encrypt(encoding), created_at=now,
                        created_by_id=actor.id)
    session.add(ref)
    session.flush()
    record_event(session, actor=actor, action="reference_face.enrol", object_type="reference_face",
                 object_id=ref.id, school_id=school.id, subject_ids=[person.id], now=now,
                 details={"portrait_sha256": digest, "person_id": person.id})
    return ref


def reference_count(session: Session, person_id: int) -> int:
    return len(list(session.scalars(
        select(ReferenceFace.id).where(ReferenceFace.person_id == person_id))))


def purge_reference_faces(session: Session, person_id: int, actor: Actor, reason: str,
                          now: datetime | None = None) -> int:
    """Delete a person's reference faces and the stored encodings of faces matched to them.

    Called when ``face_matching`` is withdrawn or the person leaves; returns
    how many reference faces were deleted. Audited without names.
    """
    refs = list(session.scalars(select(ReferenceFace).where(ReferenceFace.person_id == person_id)))
    school_id = refs[0].school_id if refs else session.scalar(
        select(Person.school_id).where(Person.id == person_id))
    for ref in refs:
        session.delete(ref)
    session.flush()
    forget_decrypted(school_id)
    cleared = rows_changed(session.execute(
        update(Face).where(Face.matched_person_id == person_id,
                           Face.encoding_encrypted.is_not(None))
        .values(encoding_encrypted=None).execution_options(synchronize_session="fetch")
    ))
    if refs or cleared:
        record_event(session, actor=actor, action="reference_face.purge", object_type="person",
                     object_id=person_id, school_id=school_id, subject_ids=[person_id],
                     now=now or utcnow(),
                     details={"reference_faces": len(refs), "face_encodings": int(cleared or 0),
                              "reason": reason})
    return len(refs)


def _on_left(session: Session, event: PersonLeft) -> None:
    purge_reference_faces(session, event.person_id, Actor.system("roster"), "left school", event.at)


def _on_withdrawn(session: Session, event: PurposesWithdrawn) -> None:
    if FACE_MATCHING in event.purposes:
        purge_reference_faces(session, event.person_id, Actor.system("consent-withdrawal"),
                              "face_matching withdrawn", event.at)


subscribe(PurposesWithdrawn, _on_withdrawn)
subscribe(PersonLeft, _on_left)


# Decrypted reference encodings held in this process, per school, by token.
# Each build of a school's index keeps exactly the references in force, so a
# purged person's vectors leave every process's memory at its next build
# (a worker's before its next match); the purge itself empties this
# process's copy at once.
_cache: dict[int, dict[bytes, np.ndarray]] = {}


def forget_decrypted(school_id: int | None) -> None:
    """Drop the decrypted reference encodings this process holds (of one school, or all)."""
    if school_id is None:
        _cache.clear()
    else:
        _cache.pop(school_id, None)


def reference_index(session: Session, school: School, cipher: EncodingCipher,
                    today: date) -> ReferenceIndex | None:
    """The school's matching index under its biometric mode; None when matching is off."""
    if school.biometric_mode == "off":
        return None
    rows = session.execute(
        select(ReferenceFace.person_id, ReferenceFace.encoding_encrypted)
        .join(Person, Person.id == ReferenceFace.person_id)
        .where(ReferenceFace.school_id == school.id, Person.erased_at.is_(None),
               (Person.left_on.is_(None)) | (Person.left_on > today))
    ).all()
    if school.biometric_mode == "consented" and rows:
        ids = sorted({pid for pid, _ in rows})
        records = consent_map(session, ids, [FACE_MATCHING], today)
        allowed = {pid for pid in ids if allows(records.get((pid, FACE_MATCHING)), FACE_MATCHING)}
        rows = [row for row in rows if row[0] in allowed]
    previous = _cache.get(school.id, {})
    current: dict[bytes, np.ndarray] = {}
    pairs = []
    for pid, token in rows:
        key = bytes(token)
        vector = previous.get(key)
        if vector is None:
            vector = cipher.decrypt(key)
        current[key] = vector
        pairs.append((pid, vector))
    _cache[school.id] = current
    return ReferenceIndex(pairs)
