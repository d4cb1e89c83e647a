"""Consent records cannot be rewritten, neither through the ORM nor by SQL."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from consentflow.models import ConsentForm, ConsentRecord, SchoolYear
from tests import factories


def _record(db_session) -> ConsentRecord:
    school = factories.school(db_session)
    person = factories.person(db_session, school=school)
    year = SchoolYear(school_id=school.id, label="2026-2027", starts_on=date(2026, 8, 1),
                      ends_on=date(2027, 7, 31))
    db_session.add(year)
    db_session.flush()
    form = ConsentForm(school_id=school.id, school_year_id=year.id, title="Form", wording="...",
                       purposes=["website.photo"])
    db_session.add(form)
    db_session.flush()
    rec = ConsentRecord(school_id=school.id, person_id=person.id, school_year_id=year.id,
                        form_id=form.id, decisions={"website.photo": True}, signer_kind="self",
                        signer_name="x", method="in_person",
                        signed_at=datetime(2026, 9, 1, tzinfo=timezone.utc))
    db_session.add(rec)
    db_session.commit()
    return rec


def test_sql_update_is_refused(db_session) -> None:
    rec = _record(db_session)
    with pytest.raises(DBAPIError):
        db_session.execute(text("UPDATE consent_record SET signer_name = 'y' WHERE id = :id"),
                           {"id": rec.id})
    db_session.rollback()


def test_sql_delete_is_refused(db_session) -> None:
    rec = _record(db_session)
    with pytest.raises(DBAPIError):
        db_session.execute(text("DELETE FROM consent_record WHERE id = :id"), {"id": rec.id})
    db_session.rollback()


def test_orm_update_is_refused(db_session) -> None:
    rec = _record(db_session)
    rec.decisions = {"website.photo": False}
    with pytest.raises(ValueError, match="immutable"):
        db_session.commit()
    db_session.rollback()
