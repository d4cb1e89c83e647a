"""Lists for the admin: guardians who answered differently, students who turned 16."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from consentflow.consent.effective import effective_records
from consentflow.consent.rounds import active_people
from consentflow.consent.signer import local_date, sixteenth_birthday
from consentflow.models import ConsentLink, ConsentRecord, Person


@dataclass(frozen=True)
class ConflictRow:
    person: Person
    answers: tuple[ConsentRecord, ...]  # the latest answer of each guardian, oldest first
    standing: ConsentRecord  # the record in force (the latest)
    differing: tuple[str, ...]  # purposes the guardians answered differently


def guardian_conflicts(session: Session, school_id: int, school_year_id: int) -> list[ConflictRow]:
    """People whose guardians' latest answers in the year differ; the latest record stands."""
    records = list(session.scalars(
        select(ConsentRecord).options(selectinload(ConsentRecord.person))
        .where(ConsentRecord.school_id == school_id, ConsentRecord.school_year_id == school_year_id)
        .order_by(ConsentRecord.id)
    ))
    latest_by_signer: dict[int, dict[object, ConsentRecord]] = defaultdict(dict)
    head: dict[int, ConsentRecord] = {}
    for rec in records:
        signer = rec.signer_guardian_id if rec.signer_kind == "guardian" else "self"
        latest_by_signer[rec.person_id][signer] = rec
        head[rec.person_id] = rec
    rows: list[ConflictRow] = []
    for person_id, by_signer in latest_by_signer.items():
        guardians = [r for key, r in by_signer.items() if key != "self"]
        if len(guardians) < 2:
            continue
        purposes = sorted({p for r in guardians for p in r.decisions})
        differing = tuple(p for p in purposes
                          if len({r.decisions.get(p) is True for r in guardians}) > 1)
        if differing:
            answers = tuple(sorted(guardians, key=lambda r: r.id))
            rows.append(ConflictRow(head[person_id].person, answers, head[person_id], differing))
    return sorted(rows, key=lambda r: (r.person.group_name or "", r.person.last_name))


@dataclass(frozen=True)
class TurnedSixteenRow:
    person: Person
    birthday: date
    record: ConsentRecord  # the guardian record that stays in force until the student answers
    invited: bool  # an own link exists already
    own_link_id: int | None = None  # the student's own link, for a letter when there is no e-mail
    has_email: bool = False


def turned_sixteen(session: Session, school_id: int, today: date) -> list[TurnedSixteenRow]:
    """Students now 16+ whose record in force was signed by a guardian before their 16th birthday."""
    students = [p for p in active_people(session, school_id, today)
                if p.kind == "student" and p.date_of_birth is not None
                and sixteenth_birthday(p.date_of_birth) <= today]
    records = effective_records(session, [p.id for p in students], today)
    candidates = [
        (p, records[p.id]) for p in students
        if p.id in records and records[p.id].signer_kind == "guardian"
        and local_date(records[p.id].signed_at) < sixteenth_birthday(p.date_of_birth)  # type: ignore[arg-type]
    ]
    own: dict[int, int] = {}
    for person_id, link_id in session.execute(
            select(ConsentLink.person_id, ConsentLink.id).where(
                ConsentLink.person_id.in_([p.id for p, _ in candidates] or [0]),
                ConsentLink.guardian_id.is_(None), ConsentLink.revoked_at.is_(None))
            .order_by(ConsentLink.id)):
        own[person_id] = link_id
    return [TurnedSixteenRow(p, sixteenth_birthday(p.date_of_birth), rec, p.id in own,  # type: ignore[arg-type]
                             own.get(p.id), bool(p.email))
            for p, rec in candidates]
