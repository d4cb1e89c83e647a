"""Recording consent: signer rule, supersede-not-update, evidence, withdrawal signal."""

from __future__ import annotations

import hashlib
import os
from datetime import date, datetime, timezone
from typing import Any

import pytest
from sqlalchemy import select, text

from consentflow.audit.service import Actor
from consentflow.consent.service import record_consent
from consentflow.consent.years import create_form_version, ensure_school_year
from consentflow.errors import InvalidInput, InvalidState, SignerRuleViolation
from consentflow.events import PurposesWithdrawn, subscribe
from consentflow.models import AuditEvent, ConsentForm, ConsentRecord, SchoolYear
from tests import factories

ACTOR = Actor.system("test")
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=timezone.utc)


def year_and_form(db_session: Any, school: Any, on: date = date(2026, 9, 1),
                  purposes: list[str] | None = None) -> tuple[SchoolYear, ConsentForm]:
    year = ensure_school_year(db_session, actor=ACTOR, school_id=school.id, on=on, now=NOW)
    # The form exists from the first day of its year: records may carry any date of that year.
    opened = datetime(year.starts_on.year, year.starts_on.month, year.starts_on.day, 9, tzinfo=timezone.utc)
    form = create_form_version(db_session, actor=ACTOR, school_id=school.id, school_year_id=year.id,
                               title="Consent", wording="We ask...", purposes=purposes, now=opened)
    return year, form


def record(db_session: Any, app: Any, person: Any, year: Any, form: Any, decisions: dict[str, bool],
           *, guardian: Any = None, signed_at: datetime = NOW, method: str = "in_person",
           evidence: bytes | None = None, now: datetime | None = None) -> ConsentRecord:
    return record_consent(
        db_session, actor=ACTOR, person_id=person.id, school_year_id=year.id, form_id=form.id,
        decisions=decisions, signer_kind="guardian" if guardian else "self",
        signer_guardian_id=guardian.id if guardian else None, signer_name=None, method=method,
        signed_at=signed_at, evidence=evidence, evidence_filename="scan.pdf",
        storage_dir=app.config["STORAGE_DIR"], now=now or max(signed_at, NOW))


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("signed_on", "guardian_ok", "self_ok"), [
    (date(2026, 9, 14), True, False),   # day before the 16th birthday
    (date(2026, 9, 15), False, True),   # the 16th birthday
    (date(2026, 9, 16), False, True),   # day after
])
def test_signer_rule_at_the_16th_birthday(app, db_session, signed_on, guardian_ok, self_ok) -> None:
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=date(2010, 9, 15))
    parent = factories.guardian(db_session, school=school, children=[student])
    year, form = year_and_form(db_session, school)
    signed = _at(signed_on)
    if guardian_ok:
        rec = record(db_session, app, student, year, form, {"website.photo": True}, guardian=parent,
                     signed_at=signed, now=_at(date(2026, 9, 20)))
        assert rec.signer_kind == "guardian" and rec.signer_guardian_id == parent.id
    else:
        with pytest.raises(SignerRuleViolation, match="must sign for themself"):
            record(db_session, app, student, year, form, {"website.photo": True}, guardian=parent,
                   signed_at=signed, now=_at(date(2026, 9, 20)))
    if self_ok:
        rec = record(db_session, app, student, year, form, {"website.photo": True}, signed_at=signed,
                     now=_at(date(2026, 9, 20)))
        assert rec.signer_kind == "self"
    else:
        with pytest.raises(SignerRuleViolation, match="guardian linked to them must sign"):
            record(db_session, app, student, year, form, {"website.photo": True}, signed_at=signed,
                   now=_at(date(2026, 9, 20)))


def test_signing_just_after_midnight_dutch_time_counts_as_the_birthday(app, db_session) -> None:
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=date(2010, 9, 15))
    year, form = year_and_form(db_session, school)
    # 22:30 UTC on the 14th is 00:30 on the 15th in Amsterdam (summer time).
    signed = datetime(2026, 9, 14, 22, 30, tzinfo=timezone.utc)
    rec = record(db_session, app, student, year, form, {"website.photo": True}, signed_at=signed)
    assert rec.signer_kind == "self"


def test_a_guardian_of_another_child_may_not_sign(app, db_session) -> None:
    school = factories.school(db_session)
    child = factories.person(db_session, school=school, dob=date(2014, 1, 1))
    other = factories.person(db_session, school=school, dob=date(2014, 1, 1))
    stranger = factories.guardian(db_session, school=school, children=[other])
    year, form = year_and_form(db_session, school)
    with pytest.raises(SignerRuleViolation, match="not registered as a guardian"):
        record(db_session, app, child, year, form, {"website.photo": True}, guardian=stranger)
    assert db_session.scalar(select(ConsentRecord)) is None


def test_staff_sign_for_themselves(app, db_session) -> None:
    school = factories.school(db_session)
    teacher = factories.person(db_session, school=school, kind="staff", dob=date(1980, 1, 1))
    year, form = year_and_form(db_session, school)
    assert record(db_session, app, teacher, year, form, {"website.photo": True}).signer_kind == "self"


def _raw_row(db_session: Any, record_id: int) -> tuple[Any, ...]:
    return tuple(db_session.execute(text("SELECT * FROM consent_record WHERE id = :id"),
                                    {"id": record_id}).one())


def test_a_change_supersedes_and_leaves_the_old_row_byte_identical(app, db_session) -> None:
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=date(2013, 3, 3))
    parent = factories.guardian(db_session, school=school, children=[student])
    year, form = year_and_form(db_session, school)
    first = record(db_session, app, student, year, form,
                   {"website.photo": True, "social_media.photo": True}, guardian=parent)
    db_session.commit()
    before = _raw_row(db_session, first.id)
    second = record(db_session, app, student, year, form,
                    {"website.photo": True, "social_media.photo": False}, guardian=parent,
                    signed_at=datetime(2026, 10, 2, 9, 0, tzinfo=timezone.utc))
    db_session.commit()
    db_session.expire_all()
    assert second.id != first.id and second.supersedes_id == first.id
    assert _raw_row(db_session, first.id) == before
    assert db_session.get(ConsentRecord, first.id).decisions["social_media.photo"] is True
    assert len(db_session.scalars(select(ConsentRecord)).all()) == 2
    # Unanswered purposes are stored as an explicit no.
    assert second.decisions["press.video"] is False


def test_withdrawal_emits_the_event_in_the_same_transaction(app, db_session) -> None:
    received: list[PurposesWithdrawn] = []

    def handler(session: Any, event: PurposesWithdrawn) -> None:
        # The new record is visible to the handler: same transaction.
        assert session.get(ConsentRecord, event.record_id) is not None
        received.append(event)

    subscribe(PurposesWithdrawn, handler)
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=date(2013, 3, 3))
    parent = factories.guardian(db_session, school=school, children=[student])
    year, form = year_and_form(db_session, school)
    record(db_session, app, student, year, form,
           {"website.photo": True, "face_matching": True, "press.photo": False}, guardian=parent)
    assert [e for e in received if e.person_id == student.id] == []
    later = datetime(2026, 10, 3, 9, 0, tzinfo=timezone.utc)
    rec = record(db_session, app, student, year, form,
                 {"website.photo": True, "face_matching": False, "press.photo": True},
                 guardian=parent, signed_at=later)
    mine = [e for e in received if e.person_id == student.id]
    assert len(mine) == 1
    assert mine[0].purposes == frozenset({"face_matching"}) and mine[0].record_id == rec.id
    assert mine[0].school_id == school.id


def test_paper_evidence_is_hashed_and_stored_outside_static(app, db_session) -> None:
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=date(2013, 3, 3))
    parent = factories.guardian(db_session, school=school, children=[student])
    year, form = year_and_form(db_session, school)
    scan = b"%PDF-1.4\n% signed form\n"
    with pytest.raises(InvalidInput, match="scan"):
        record(db_session, app, student, year, form, {"website.photo": True}, guardian=parent,
               method="paper")
    rec = record(db_session, app, student, year, form, {"website.photo": True}, guardian=parent,
                 method="paper", evidence=scan)
    digest = hashlib.sha256(scan).hexdigest()
    assert rec.evidence_sha256 == digest
    path = os.path.join(app.config["STORAGE_DIR"], rec.evidence_key)
    with open(path, "rb") as fh:
        assert fh.read() == scan
    assert not os.path.abspath(path).startswith(os.path.abspath(app.static_folder))
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "consent.record"))
    assert event.subject_ids == [student.id] and parent.name not in str(event.details)


def test_not_a_scan_is_refused(app, db_session) -> None:
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=date(2013, 3, 3))
    parent = factories.guardian(db_session, school=school, children=[student])
    year, form = year_and_form(db_session, school)
    with pytest.raises(InvalidInput, match="scan or photo"):
        record(db_session, app, student, year, form, {"website.photo": True}, guardian=parent,
               method="paper", evidence=b"MZ\x90\x00 not a form")


def test_an_older_form_cannot_override_a_later_withdrawal(app, db_session) -> None:
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=date(2013, 3, 3))
    parent = factories.guardian(db_session, school=school, children=[student])
    year, form = year_and_form(db_session, school)
    record(db_session, app, student, year, form, {"website.photo": False}, guardian=parent,
           signed_at=datetime(2026, 9, 20, 9, tzinfo=timezone.utc))
    with pytest.raises(InvalidState, match="later answer"):
        record(db_session, app, student, year, form, {"website.photo": True}, guardian=parent,
               signed_at=datetime(2026, 9, 10, 9, tzinfo=timezone.utc))


def test_purposes_outside_the_form_are_refused(app, db_session) -> None:
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=date(2013, 3, 3))
    parent = factories.guardian(db_session, school=school, children=[student])
    year, form = year_and_form(db_session, school, purposes=["website.photo"])
    with pytest.raises(InvalidInput, match="does not ask"):
        record(db_session, app, student, year, form, {"press.photo": True}, guardian=parent)
