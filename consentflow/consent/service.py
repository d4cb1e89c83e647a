"""Recording consent: immutable records that supersede, with the signer rule and evidence."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.consent.evidence import store_evidence
from consentflow.consent.signer import check_signer, check_signing_date, local_date
from consentflow.errors import InvalidInput, InvalidState, NotFound
from consentflow.events import PurposesWithdrawn, emit
from consentflow.locking import serialise
from consentflow.models import ConsentForm, ConsentRecord, Guardian, Person, SchoolYear

METHODS = ("digital", "paper", "in_person")
SIGNER_KINDS = ("guardian", "self")
# Clocks of phones and scanners drift; a signature "from the future" beyond this is a typo.
_CLOCK_SLACK = timedelta(minutes=10)


def latest_record_in_year(session: Session, person_id: int, school_year_id: int) -> ConsentRecord | None:
    """The record currently in force for that person and school year (the head of the chain)."""
    return session.scalar(
        select(ConsentRecord)
        .where(ConsentRecord.person_id == person_id, ConsentRecord.school_year_id == school_year_id)
        .order_by(ConsentRecord.id.desc()).limit(1)
    )


def withdrawn_purposes(before: ConsentRecord | None, decisions: dict[str, bool]) -> frozenset[str]:
    """Purposes that were yes in the record in force and are not yes any more."""
    if before is None:
        return frozenset()
    return frozenset(p for p, yes in before.decisions.items() if yes and decisions.get(p) is not True)


def _load(session: Session, person_id: int, school_year_id: int,
          form_id: int) -> tuple[Person, SchoolYear, ConsentForm]:
    person = session.get(Person, person_id)
    if person is None or person.erased_at is not None:
        raise NotFound("No such person.")
    year = session.get(SchoolYear, school_year_id)
    if year is None or year.school_id != person.school_id:
        raise NotFound("No such school year.")
    form = session.get(ConsentForm, form_id)
    if form is None or form.school_id != person.school_id or form.school_year_id != year.id:
        raise InvalidInput("The consent form does not belong to that school year.")
    return person, year, form


def _normalise_decisions(form: ConsentForm, decisions: dict[str, bool]) -> dict[str, bool]:
    unknown = sorted(set(decisions) - set(form.purposes))
    if unknown:
        raise InvalidInput("The form does not ask about: %(purposes)s.", purposes=", ".join(unknown))
    # A purpose left unanswered is a no: consent is never assumed.
    return {purpose: decisions.get(purpose) is True for purpose in form.purposes}


def record_consent(
    session: Session,
    *,
    actor: Actor,
    person_id: int,
    school_year_id: int,
    form_id: int,
    decisions: dict[str, bool],
    signer_kind: str,
    signer_guardian_id: int | None,
    signer_name: str | None,
    method: str,
    signed_at: datetime,
    evidence: bytes | None,
    evidence_filename: str | None,
    storage_dir: str,
    now: datetime,
    evidence_note: str | None = None,
    submission_nonce: str | None = None,
) -> ConsentRecord:
    """Add a new record that supersedes the one in force; refuses a signer the rule forbids."""
    person, year, form = _load(session, person_id, school_year_id, form_id)
    if method not in METHODS:
        raise InvalidInput(f"Unknown method {method!r}.")
    if signer_kind not in SIGNER_KINDS:
        raise InvalidInput(f"Unknown signer {signer_kind!r}.")
    if signed_at.tzinfo is None:
        raise InvalidInput("The signing time needs a time zone.")
    signed_on = local_date(signed_at)
    check_signing_date(signed_on, year_starts=year.starts_on, year_ends=year.ends_on,
                       form_created=local_date(form.created_at), today=local_date(now))
    if signed_at > now + _CLOCK_SLACK:
        raise InvalidInput("The signing time lies in the future.")
    guardian = session.get(Guardian, signer_guardian_id) if signer_guardian_id else None
    if signer_kind == "guardian" and signer_guardian_id and guardian is None:
        raise NotFound("No such guardian.")
    check_signer(person, signer_kind, guardian if signer_kind == "guardian" else None, signed_on)
    if method == "paper" and not evidence:
        raise InvalidInput("A paper form is recorded with its scan as evidence: upload the signed form.")
    normalised = _normalise_decisions(form, decisions)

    # Two recordings at once must not both supersede the same record (a fork
    # whose withdrawal could miss its takedown): one at a time per person.
    serialise(session, Person, person.id)
    before = latest_record_in_year(session, person.id, year.id)
    if before is not None and signed_at < before.signed_at:
        # An older paper form must never override a later answer (e.g. a withdrawal).
        raise InvalidState(
            "A later answer (signed %(date)s) is already on file; an older form cannot replace it.",
            date=local_date(before.signed_at).isoformat())
    sha = key = None
    if evidence:
        sha, key = store_evidence(storage_dir, evidence, evidence_filename)
    name = (signer_name or "").strip()
    if not name:
        name = guardian.name if signer_kind == "guardian" and guardian else person.full_name
    record = ConsentRecord(
        school_id=person.school_id, person_id=person.id, school_year_id=year.id, form_id=form.id,
        decisions=normalised, signer_kind=signer_kind,
        signer_guardian_id=guardian.id if signer_kind == "guardian" and guardian else None,
        signer_name=name[:200], method=method, signed_at=signed_at, recorded_at=now,
        recorded_by_id=actor.id, evidence_sha256=sha, evidence_key=key,
        evidence_note=(evidence_note or None), supersedes_id=before.id if before else None,
        submission_nonce=submission_nonce,
    )
    session.add(record)
    session.flush()
    withdrawn = withdrawn_purposes(before, normalised)
    record_event(
        session, actor=actor, school_id=person.school_id, action="consent.record",
        object_type="consent_record", object_id=record.id, subject_ids=[person.id],
        details={"school_year_id": year.id, "form_id": form.id, "form_version": form.version,
                 "decisions": normalised, "signer_kind": signer_kind,
                 "signer_guardian_id": record.signer_guardian_id, "method": method,
                 "signed_at": signed_at.isoformat(), "supersedes_id": record.supersedes_id,
                 "evidence_sha256": sha, "withdrawn": sorted(withdrawn)},
        personal={"signer_name": record.signer_name}, now=now,
    )
    if withdrawn:
        # Takedowns and deletion of face data happen in this same transaction.
        emit(session, PurposesWithdrawn(school_id=person.school_id, person_id=person.id,
                                        purposes=withdrawn, record_id=record.id, at=now))
    return record


def record_history(session: Session, person_id: int) -> list[ConsentRecord]:
    """Every record of a person, newest first (all years)."""
    return list(session.scalars(
        select(ConsentRecord).where(ConsentRecord.person_id == person_id)
        .order_by(ConsentRecord.id.desc())
    ))
