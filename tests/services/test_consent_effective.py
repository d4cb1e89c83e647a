"""Effective consent: the latest record of the school year containing the date; none means no."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import event

from consentflow.consent.effective import allows, consent_map, effective_record, has_consent
from consentflow.consent.years import ensure_school_year, year_bounds
from consentflow.extensions import db
from tests import factories
from tests.services.test_consent_records import ACTOR, NOW, record, year_and_form


def test_year_bounds_default_and_configured() -> None:
    assert year_bounds(8, 1, date(2026, 7, 31)) == (date(2025, 8, 1), date(2026, 7, 31))
    assert year_bounds(8, 1, date(2026, 8, 1)) == (date(2026, 8, 1), date(2027, 7, 31))
    assert year_bounds(9, 1, date(2026, 8, 15)) == (date(2025, 9, 1), date(2026, 8, 31))


def test_consent_expires_with_its_school_year(app, db_session) -> None:
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=date(2013, 3, 3))
    parent = factories.guardian(db_session, school=school, children=[student])
    year, form = year_and_form(db_session, school, on=date(2025, 9, 1))
    assert (year.starts_on, year.ends_on) == (date(2025, 8, 1), date(2026, 7, 31))
    rec = record(db_session, app, student, year, form, {"website.photo": True}, guardian=parent,
                 signed_at=datetime(2025, 9, 5, 10, tzinfo=timezone.utc))
    assert effective_record(db_session, student.id, "website.photo", date(2026, 7, 31)) == rec
    assert has_consent(db_session, student.id, "website.photo", date(2026, 7, 31))
    # 1 August: a new school year, no record yet -> no consent.
    assert effective_record(db_session, student.id, "website.photo", date(2026, 8, 1)) is None
    assert not has_consent(db_session, student.id, "website.photo", date(2026, 8, 1))
    ensure_school_year(db_session, actor=ACTOR, school_id=school.id, on=date(2026, 8, 1), now=NOW)
    assert not has_consent(db_session, student.id, "website.photo", date(2026, 8, 1))
    # Before the first year too.
    assert not has_consent(db_session, student.id, "website.photo", date(2025, 7, 31))


def test_new_year_record_does_not_leak_into_the_old_year(app, db_session) -> None:
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=date(2013, 3, 3))
    parent = factories.guardian(db_session, school=school, children=[student])
    old_year, old_form = year_and_form(db_session, school, on=date(2025, 9, 1))
    new_year, new_form = year_and_form(db_session, school, on=date(2026, 9, 1))
    record(db_session, app, student, old_year, old_form, {"website.photo": False}, guardian=parent,
           signed_at=datetime(2025, 9, 5, 10, tzinfo=timezone.utc))
    record(db_session, app, student, new_year, new_form, {"website.photo": True}, guardian=parent,
           signed_at=datetime(2026, 9, 2, 10, tzinfo=timezone.utc))
    assert not has_consent(db_session, student.id, "website.photo", date(2026, 3, 1))
    assert has_consent(db_session, student.id, "website.photo", date(2026, 9, 3))


def test_only_an_explicit_yes_counts(app, db_session) -> None:
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=date(2013, 3, 3))
    parent = factories.guardian(db_session, school=school, children=[student])
    year, form = year_and_form(db_session, school, purposes=["website.photo", "press.photo"])
    record(db_session, app, student, year, form, {"website.photo": True}, guardian=parent)
    on = date(2026, 10, 2)
    assert has_consent(db_session, student.id, "website.photo", on)
    assert not has_consent(db_session, student.id, "press.photo", on)  # unanswered -> no
    assert not has_consent(db_session, student.id, "newsletter.photo", on)  # not on the form


def test_consent_map_is_batched(app, db_session) -> None:
    school = factories.school(db_session)
    year, form = year_and_form(db_session, school)
    people = [factories.person(db_session, school=school, dob=date(2013, 3, 3)) for _ in range(30)]
    for i, person in enumerate(people[:20]):
        parent = factories.guardian(db_session, school=school, children=[person])
        record(db_session, app, person, year, form, {"website.photo": i % 2 == 0}, guardian=parent)
    db_session.commit()
    ids = [p.id for p in people]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = consent_map(db_session, ids, ["website.photo", "press.photo"],
                             date(2026, 10, 2))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) <= 2
    assert len(result) == 60
    assert allows(result[(ids[0], "website.photo")], "website.photo")
    assert not allows(result[(ids[1], "website.photo")], "website.photo")
    assert result[(ids[25], "website.photo")] is None
    assert not allows(result[(ids[0], "press.photo")], "press.photo")
