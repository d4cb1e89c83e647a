"""Effective consent: the one answer to "may this person be shown for this purpose on this day?".

Effective consent for (person, purpose, date) is the latest record of that
person for the school year containing the date. Records form a chain (each
supersedes the one before), so "latest" is the highest id. No record, or no
school year containing the date, means no consent: consent expires with its
school year.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from consentflow.models import ConsentRecord, SchoolYear

_CHUNK = 2000  # keeps IN lists well inside every database's parameter limit


def _in_year(on: date) -> tuple[ColumnElement[bool], ...]:
    return (SchoolYear.starts_on <= on, SchoolYear.ends_on >= on)


def effective_record(session: Session, person_id: int, purpose: str, on: date) -> ConsentRecord | None:
    """The latest record of the person for the school year containing ``on`` (None: no consent)."""
    del purpose  # one record answers every purpose of the form
    return session.scalar(
        select(ConsentRecord)
        .join(SchoolYear, SchoolYear.id == ConsentRecord.school_year_id)
        .where(ConsentRecord.person_id == person_id, *_in_year(on))
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )


def has_consent(session: Session, person_id: int, purpose: str, on: date) -> bool:
    """True only if an effective record exists and says yes to exactly this purpose."""
    record = effective_record(session, person_id, purpose, on)
    return record is not None and record.decisions.get(purpose) is True


def effective_records(session: Session, person_ids: Iterable[int], on: date) -> dict[int, ConsentRecord]:
    """Effective record per person (people without one are absent), in two queries per chunk."""
    ids = sorted(set(person_ids))
    found: dict[int, ConsentRecord] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        latest = (
            select(func.max(ConsentRecord.id))
            .join(SchoolYear, SchoolYear.id == ConsentRecord.school_year_id)
            .where(ConsentRecord.person_id.in_(chunk), *_in_year(on))
            .group_by(ConsentRecord.person_id)
        )
        for record in session.scalars(select(ConsentRecord).where(ConsentRecord.id.in_(latest))):
            found[record.person_id] = record
    return found


def consent_map(session: Session, person_ids: Iterable[int], purposes: Iterable[str],
                on: date) -> dict[tuple[int, str], ConsentRecord | None]:
    """Effective record for every (person, purpose) pair, without a query per person.

    The value is the record in force (None: no consent at all); whether it
    allows the purpose is ``record.decisions.get(purpose) is True`` — use
    ``allows`` for that.
    """
    ids = list(person_ids)
    wanted = list(purposes)
    records = effective_records(session, ids, on)
    return {(pid, purpose): records.get(pid) for pid in ids for purpose in wanted}


def allows(record: ConsentRecord | None, purpose: str) -> bool:
    """Deny by default: only an explicit yes in the effective record allows a purpose."""
    return record is not None and record.decisions.get(purpose) is True
