"""Roster import: messy exports, per-row report, re-import updates, missing people listed (not marked) as leaving."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.errors import InvalidInput
from consentflow.models import AuditEvent, Guardian, Person
from consentflow.people.import_csv import parse_date
from consentflow.people.leavers import confirm_leavers
from consentflow.people.service import import_roster
from tests import factories
from tests.conftest import DATA_DIR

ROSTERS = DATA_DIR / "rosters"
NOW = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
SECRET = "test-secret-for-the-leavers-token"


def _import(db_session, school, name: str, kind: str = "student", **kwargs):
    data = (ROSTERS / name).read_bytes()
    return import_roster(db_session, actor=Actor.system("test"), school_id=school.id, data=data,
                         kind=kind, today=kwargs.pop("today", NOW.date()), now=NOW, **kwargs)


def _person(db_session, school, number: str) -> Person | None:
    return db_session.scalar(select(Person).where(Person.school_id == school.id,
                                                  Person.external_id == number))


def test_messy_export_keeps_good_rows_and_reports_each_bad_one(db_session) -> None:
    school = factories.school(db_session)
    report = _import(db_session, school, "messy_nl_semicolon_bom.csv")
    by_line = {r.line: r for r in report.rows}
    assert report.counts == {"created": 4, "updated": 0, "unchanged": 0, "conflict": 0, "gone": 0,
                             "rejected": 3}
    assert by_line[4].status == "rejected" and "31-02-2010" in by_line[4].reason
    assert by_line[6].status == "rejected" and "appears earlier on line 3" in by_line[6].reason
    assert by_line[7].status == "rejected" and "no student number" in by_line[7].reason
    # A bad guardian e-mail is a warning, not a lost row.
    assert by_line[8].status == "created" and "not-an-email" in by_line[8].reason

    emma = _person(db_session, school, "200001")
    assert (emma.first_name, emma.last_name, emma.date_of_birth, emma.group_name) == (
        "Emma", "de Vries", date(2011, 3, 14), "2A")
    assert sorted(g.email for g in emma.guardians) == ["m.devries@example.org", "p.devries@example.org"]
    assert _person(db_session, school, "200002").last_name == "Jansen"  # the first row won
    assert _person(db_session, school, "200003") is None
    assert _person(db_session, school, "200005").date_of_birth == date(2012, 7, 3)
    assert report.mapping["external_id"] == "Leerlingnummer"  # the BOM is not part of the header
    assert "Mentor" in report.ignored_headers
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "person.create")).all()
    assert len(events) == 4 and all("Emma" not in str(e.details) for e in events)


def test_reimport_updates_and_lists_missing_students_until_confirmed(db_session) -> None:
    school = factories.school(db_session)
    _import(db_session, school, "messy_nl_semicolon_bom.csv")
    guardians_before = db_session.scalars(select(Guardian)).all()
    report = _import(db_session, school, "next_year_en_comma.csv", today=date(2027, 8, 20),
                     full_export=True, secret=SECRET)
    counts = report.counts
    assert counts["created"] == 0 and counts["rejected"] == 0
    assert counts["updated"] == 3  # new classes, and Noah's guardian e-mail is new
    assert [leaver.external_id for leaver in report.leavers] == ["200004"]
    sem = _person(db_session, school, "200004")
    assert sem is not None and sem.left_on is None  # listed, not marked
    confirm_leavers(db_session, actor=Actor.system("test"), school_id=school.id, token=report.leave_token,
                    secret=SECRET, today=date(2027, 8, 20), now=NOW)
    assert sem.left_on == date(2027, 8, 20)  # marked, not deleted
    assert _person(db_session, school, "200001").group_name == "3A"
    assert len(db_session.scalars(select(Person)).all()) == 4
    # Re-import links the existing guardian by e-mail instead of duplicating.
    jill = db_session.scalars(select(Guardian).where(Guardian.email == "j.jansen@example.org")).all()
    assert len(jill) == 1
    # Mary had no valid e-mail before: she is found by name and gets it, not duplicated.
    assert len(db_session.scalars(select(Guardian)).all()) == len(guardians_before)
    noah = _person(db_session, school, "200005")
    assert [g.email for g in noah.guardians] == ["mary.visser@example.org"]
    # The export is authoritative for who the guardians are.
    assert [g.name for g in _person(db_session, school, "200001").guardians] == ["Michelle de Vries"]


def test_rejected_row_of_a_known_student_does_not_mark_them_left(db_session) -> None:
    school = factories.school(db_session)
    factories.person(db_session, school=school, external_id="200003", first="Zoë", last="Berg")
    report = _import(db_session, school, "messy_nl_semicolon_bom.csv", full_export=True, secret=SECRET)
    assert _person(db_session, school, "200003").left_on is None
    assert report.leavers_checked and report.leavers == []


def test_partial_file_marks_nobody_left(db_session) -> None:
    school = factories.school(db_session)
    other = factories.person(db_session, school=school, external_id="999999")
    _import(db_session, school, "next_year_en_comma.csv", full_export=False)
    assert other.left_on is None


def test_staff_export_in_windows_1252(db_session) -> None:
    school = factories.school(db_session)
    report = _import(db_session, school, "staff_nl.csv", kind="staff")
    assert report.counts["created"] == 2
    rene = _person(db_session, school, "P002")
    assert rene.kind == "staff" and rene.first_name == "René" and rene.email == "rene@demo.school"
    # Staff imports never touch students.
    students = factories.person(db_session, school=school, external_id="S1")
    report = _import(db_session, school, "staff_nl.csv", kind="staff", full_export=True)
    assert report.leavers == [] and students.left_on is None


def test_missing_required_column_is_refused_with_the_headers_found(db_session) -> None:
    school = factories.school(db_session)
    data = "Nummer;Voornaam;Achternaam\n1;A;B\n".encode()
    with pytest.raises(InvalidInput, match="date of birth"):
        import_roster(db_session, actor=Actor.system("t"), school_id=school.id, data=data,
                      kind="student", today=NOW.date(), now=NOW)


@pytest.mark.parametrize(("raw", "expected"), [
    ("14-03-2011", date(2011, 3, 14)), ("2011-03-14", date(2011, 3, 14)),
    ("4/3/2011", date(2011, 3, 4)), ("14.03.2011 00:00", date(2011, 3, 14)), ("20110314", date(2011, 3, 14)),
])
def test_date_formats(raw: str, expected: date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["31-02-2010", "14-03-11", "March 14 2011", ""])
def test_bad_dates(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_date(raw)


def test_abbreviated_dutch_headers_of_an_administration_export() -> None:
    """Exports abbreviate headers ("Stamnr", "Tussenv.", "Geb.datum"); the mapping is by meaning."""
    from consentflow.people.import_csv import parse_roster

    data = ("Stamnr;Roepnaam;Tussenv.;Achternaam;Geb.datum;Klas;E-mail ouder 1\r\n"
            "123456;Daan;van der;Berg;03-02-2011;2B;ouder@example.org\r\n").encode("cp1252")
    parsed = parse_roster(data, "student")
    row = parsed.rows[0]
    assert (row.external_id, row.first_name, row.group_name) == ("123456", "Daan", "2B")
    assert row.last_name == "van der Berg"
    assert row.date_of_birth == date(2011, 2, 3)
    assert [g.email for g in row.guardians] == ["ouder@example.org"]
