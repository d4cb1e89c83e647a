"""Who leaves the school after a full roster export: shown first, marked only when confirmed.

Leaving deletes a person's reference faces and the face encodings matched to
them (``PersonLeft`` -> ``purge_reference_faces``), so nobody is marked as
left by an import itself. When the admin says the file is a full export, the
import lists who is missing from it and what leaving would delete; a second,
explicit confirmation carries a signed token of exactly that list and of the
roster it was computed from. If anything changed in between (another import,
someone re-enrolled or added, new reference faces), the token no longer
matches and nobody is marked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.errors import Forbidden, InvalidState
from consentflow.events import PersonLeft, emit
from consentflow.models import AuditEvent, Face, Person, ReferenceFace

TOKEN_SALT = "consentflow.roster.leavers"
# Long enough to read the list and ask a colleague; short enough that a forgotten tab is void.
TOKEN_MAX_AGE = 60 * 60


@dataclass(frozen=True)
class Leaver:
    """A person missing from a full export, and what marking them as left deletes."""

    person_id: int
    external_id: str
    name: str
    group_name: str | None
    reference_faces: int
    face_encodings: int

    def fingerprint(self) -> list[int]:
        return [self.person_id, self.reference_faces, self.face_encodings]


def find_leavers(session: Session, school_id: int, kind: str, present: Iterable[str]) -> list[Leaver]:
    """People of this kind, not left or erased, whose number is not among ``present``."""
    keep = set(present)
    people = [p for p in session.scalars(
        select(Person).where(Person.school_id == school_id, Person.kind == kind,
                             Person.left_on.is_(None), Person.erased_at.is_(None))
        .order_by(Person.group_name, Person.last_name, Person.first_name, Person.id))
        if p.external_id not in keep]
    return _with_counts(session, people)


def _with_counts(session: Session, people: list[Person]) -> list[Leaver]:
    ids = [p.id for p in people]
    refs: dict[int, int] = {}
    encodings: dict[int, int] = {}
    if ids:
        refs = {int(person_id): int(n) for person_id, n in session.execute(
            select(ReferenceFace.person_id, func.count()).where(ReferenceFace.person_id.in_(ids))
            .group_by(ReferenceFace.person_id))}
        encodings = {int(person_id): int(n) for person_id, n in session.execute(
            select(Face.matched_person_id, func.count())
            .where(Face.matched_person_id.in_(ids), Face.encoding_encrypted.is_not(None))
            .group_by(Face.matched_person_id)) if person_id is not None}
    return [Leaver(p.id, p.external_id, p.full_name, p.group_name, refs.get(p.id, 0), encodings.get(p.id, 0))
            for p in people]


def roster_digest(session: Session, school_id: int, kind: str) -> str:
    """A fingerprint of the roster now: who is on it, who left or was erased, and the latest import.

    The latest import counts by itself: a later export that lists a missing
    person again changes nothing in the table (they were never marked), yet
    it says the list shown earlier is no longer the truth.
    """
    rows = session.execute(
        select(Person.id, Person.external_id, Person.left_on, Person.erased_at)
        .where(Person.school_id == school_id, Person.kind == kind).order_by(Person.id)).all()
    last_import = session.scalar(select(func.max(AuditEvent.id)).where(
        AuditEvent.school_id == school_id, AuditEvent.action == "roster.import"))
    text = "\n".join([f"import|{last_import}",
                      *(f"{r.id}|{r.external_id}|{r.left_on}|{r.erased_at is not None}" for r in rows)])
    return hashlib.sha256(text.encode()).hexdigest()


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=TOKEN_SALT)


def leavers_token(session: Session, secret: str, school_id: int, kind: str, leavers: list[Leaver]) -> str:
    """A signed token of exactly this list, for the confirmation step."""
    payload: dict[str, Any] = {"school": school_id, "kind": kind,
                               "leavers": [leaver.fingerprint() for leaver in leavers],
                               "roster": roster_digest(session, school_id, kind)}
    return _serializer(secret).dumps(payload)


STALE = ("The roster changed after this list was shown, so nobody was marked as left. "
         "Import the file again to see the current list.")
EXPIRED = "This confirmation is no longer valid, so nobody was marked as left. Import the file again."


def confirm_leavers(session: Session, *, actor: Actor, school_id: int, token: str, secret: str,
                    today: date, now: datetime, max_age: int = TOKEN_MAX_AGE) -> list[Leaver]:
    """Mark exactly the confirmed list as left, only if the roster is still the one it was made from."""
    try:
        payload = _serializer(secret).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidState(EXPIRED) from None
    except BadSignature:
        raise InvalidState(EXPIRED) from None
    if not isinstance(payload, dict) or payload.get("school") != school_id:
        raise Forbidden("This confirmation belongs to another school.")
    kind = str(payload.get("kind"))
    wanted = payload.get("leavers") or []
    ids = [int(item[0]) for item in wanted]
    people = list(session.scalars(select(Person).where(Person.school_id == school_id, Person.id.in_(ids),
                                                       Person.left_on.is_(None),
                                                       Person.erased_at.is_(None))))
    position = {person_id: i for i, person_id in enumerate(ids)}
    current = sorted(_with_counts(session, people), key=lambda leaver: position[leaver.person_id])
    if (roster_digest(session, school_id, kind) != payload.get("roster")
            or [leaver.fingerprint() for leaver in current] != wanted):
        raise InvalidState(STALE)
    by_id = {p.id: p for p in people}
    for leaver in current:
        person = by_id[leaver.person_id]
        person.left_on = today
        record_event(session, actor=actor, school_id=school_id, action="person.left",
                     object_type="person", object_id=person.id, subject_ids=[person.id],
                     details={"left_on": today.isoformat(), "source": "roster import, confirmed",
                              "reference_faces": leaver.reference_faces,
                              "face_encodings": leaver.face_encodings}, now=now)
        emit(session, PersonLeft(school_id, person.id, today, now))
    session.flush()
    record_event(session, actor=actor, school_id=school_id, action="roster.leavers_confirmed",
                 object_type="school", object_id=school_id,
                 details={"kind": kind, "left": len(current)}, now=now)
    return current
