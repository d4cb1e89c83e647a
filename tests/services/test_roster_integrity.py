"""Roster import integrity: no silent family merges, no impossible or ambiguous birth dates,
and a broken line costs that line only (never a 500, never a swallowed row)."""

from __future__ import annotations

import csv
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.models import Guardian, Person
from consentflow.people.service import import_roster
from tests import factories

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
HEADER = "Leerlingnummer;Roepnaam;Achternaam;Geboortedatum;Klas;Naam ouder 1;E-mail ouder 1\n"


def _import(db_session: Any, school: Any, body: str, *, header: str = HEADER, full: bool = False):
    return import_roster(db_session, actor=Actor.system("test"), school_id=school.id,
                         data=(header + body).encode(), kind="student", today=NOW.date(), now=NOW,
                         full_export=full)


def _person(db_session: Any, school: Any, number: str) -> Person | None:
    return db_session.scalar(select(Person).where(Person.school_id == school.id, Person.external_id == number))


def _family(db_session: Any, school: Any) -> Guardian:
    sibling = factories.person(db_session, school=school, first="Eva", last="de Vries",
                               external_id="100001")
    return factories.guardian(db_session, school=school, children=[sibling], name="Jan de Vries",
                              email="jan@example.org")


def test_same_email_other_name_is_a_conflict_and_links_nothing(db_session) -> None:
    school = factories.school(db_session)
    jan = _family(db_session, school)
    report = _import(db_session, school,
                     "200001;Sara;Bakker;2013-05-01;1A;Piet Bakker;jan@example.org\n"
                     "200002;Tim;de Vries;2014-06-01;1B;jan  DE vries;jan@example.org\n")
    by_number = {r.external_id: r for r in report.rows}
    conflict = by_number["200001"]
    assert conflict.status == "conflict"
    assert "Jan de Vries" in conflict.reason and f"#{jan.id}" in conflict.reason
    assert "Eva de Vries" in conflict.reason and "Piet Bakker" in conflict.reason
    sara = _person(db_session, school, "200001")
    assert sara is not None and sara.guardians == []
    # The same name (case and spaces aside) is the same parent: a sibling is linked.
    assert by_number["200002"].status == "created"
    assert sorted(c.external_id for c in jan.children) == ["100001", "200002"]
    assert report.counts["conflict"] == 1

    # Resolved in the export (the right name): the next import links, and says so.
    again = _import(db_session, school, "200001;Sara;Bakker;2013-05-01;1A;Jan de Vries;jan@example.org\n")
    assert again.rows[0].status == "updated"
    assert [g.id for g in _person(db_session, school, "200001").guardians] == [jan.id]


def test_conflict_on_an_existing_student_keeps_their_guardians(db_session) -> None:
    school = factories.school(db_session)
    jan = _family(db_session, school)
    student = factories.person(db_session, school=school, external_id="200001", first="Sara", last="Bakker",
                               dob=date(2013, 5, 1), group="1A")
    own = factories.guardian(db_session, school=school, children=[student], name="Mo Bakker",
                             email="mo@example.org")
    report = _import(db_session, school, "200001;Sara;Bakker;2013-05-01;1A;Piet Bakker;jan@example.org\n")
    assert report.rows[0].status == "conflict" and "Jan de Vries" in report.rows[0].reason
    assert [g.id for g in student.guardians] == [own.id]
    assert [c.id for c in jan.children] != [] and student.id not in {c.id for c in jan.children}


def test_address_without_a_name_column_links_the_known_guardian(db_session) -> None:
    school = factories.school(db_session)
    jan = _family(db_session, school)
    report = _import(db_session, school, "200003;Tim;de Vries;2014-06-01;1B;jan@example.org\n",
                     header="Leerlingnummer;Roepnaam;Achternaam;Geboortedatum;Klas;E-mail ouder 1\n")
    assert report.rows[0].status == "created"
    assert "200003" in {c.external_id for c in jan.children}


def test_impossible_birth_dates_are_rejected(db_session) -> None:
    school = factories.school(db_session)
    report = _import(db_session, school,
                     "300001;Ada;Future;2027-01-01;1A;;\n"
                     "300002;Bo;Old;1899-12-31;1A;;\n"
                     "300003;Cas;Fine;1900-01-01;1A;;\n")
    by_number = {r.external_id: r for r in report.rows}
    assert by_number["300001"].status == "rejected" and "in the future" in by_number["300001"].reason
    assert by_number["300002"].status == "rejected" and "before 1900" in by_number["300002"].reason
    assert by_number["300003"].status == "created"
    assert _person(db_session, school, "300001") is None and _person(db_session, school, "300002") is None


def test_ambiguous_slashed_date_is_rejected_unless_the_file_shows_the_order(db_session) -> None:
    school = factories.school(db_session)
    alone = _import(db_session, school, "400001;Dirk;Slash;03/04/2012;1A;;\n400002;Els;Iso;2012-04-03;1A;;\n")
    by_number = {r.external_id: r for r in alone.rows}
    assert by_number["400001"].status == "rejected" and "03/04/2012" in by_number["400001"].reason
    assert "day-month" in by_number["400001"].reason
    assert by_number["400002"].status == "created"

    day_first = factories.school(db_session)
    _import(db_session, day_first, "400001;Dirk;Slash;03/04/2012;1A;;\n400003;Fay;Day;25/04/2012;1A;;\n")
    assert _person(db_session, day_first, "400001").date_of_birth == date(2012, 4, 3)

    month_first = factories.school(db_session)
    _import(db_session, month_first, "400001;Dirk;Slash;03/04/2012;1A;;\n400003;Fay;Day;04/25/2012;1A;;\n")
    assert _person(db_session, month_first, "400001").date_of_birth == date(2012, 3, 4)
    assert _person(db_session, month_first, "400003").date_of_birth == date(2012, 4, 25)


def test_an_unterminated_quote_costs_one_line_and_swallows_nothing(db_session) -> None:
    school = factories.school(db_session)
    report = _import(db_session, school,
                     '500001;"Anna;Quote;2012-01-01;1A;;\n'
                     "500002;Bert;After;2012-02-02;1A;;\n"
                     "500003;Cor;Last;2012-03-03;1A;;\n")
    assert [(r.line, r.status) for r in report.rows] == [(2, "rejected"), (3, "created"), (4, "created")]
    assert "quotation mark" in report.rows[0].reason
    assert _person(db_session, school, "500002") is not None and _person(db_session, school, "500003")


def test_a_field_over_the_csv_limit_is_a_line_error(db_session) -> None:
    school = factories.school(db_session)
    huge = "x" * (csv.field_size_limit() + 10)
    report = _import(db_session, school,
                     f"600001;{huge};Big;2012-01-01;1A;;\n600002;Dana;Small;2012-02-02;1A;;\n")
    assert [(r.line, r.status) for r in report.rows] == [(2, "rejected"), (3, "created")]
    assert str(csv.field_size_limit()) in report.rows[0].reason


def test_a_line_with_another_separator_says_so(db_session) -> None:
    school = factories.school(db_session)
    report = _import(db_session, school,
                     "700001;Eef;Semi;2012-01-01;1A;;\n700002,Fien,Comma,2012-02-02,1A,,\n")
    by_line = {r.line: r for r in report.rows}
    assert by_line[2].status == "created"
    assert by_line[3].status == "rejected" and by_line[3].external_id == "700002"
    assert "separated by ','" in by_line[3].reason and "';'" in by_line[3].reason


def test_an_unreadable_line_in_a_full_export_marks_nobody_left(db_session) -> None:
    school = factories.school(db_session)
    _import(db_session, school, "800001;Gijs;One;2012-01-01;1A;;\n800002;Hein;Two;2012-02-02;1A;;\n")
    report = _import(db_session, school, '800001;Gijs;One;2012-01-01;1A;;\n800002;"Hein;Two;2012-02-02;1A;;\n',
                     full=True)
    assert not report.leavers_checked and report.leave_token is None
    assert _person(db_session, school, "800002").left_on is None
    assert any("could not be read" in note for note in report.notes)


def test_the_import_page_reports_broken_lines_and_conflicts_in_dutch(app, client, auth, db_session) -> None:
    import re
    from io import BytesIO

    school = factories.school(db_session)
    _family(db_session, school)
    auth.as_role(db_session, "admin", school=school)
    with client.session_transaction() as browser:
        browser["lang"] = "nl"
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                      client.get("/people/import").get_data(as_text=True)).group(1)
    huge = "x" * (csv.field_size_limit() + 10)
    body = (HEADER + f"900001;{huge};Big;2012-01-01;1A;;\n"
            '900002;"Open;Quote;2012-01-01;1A;;\n'
            "900003,Komma,Regel,2012-01-01,1A,,\n"
            "900004;Toekomst;Kind;2099-01-01;1A;;\n"
            "900005;Sara;Bakker;2013-05-01;1A;Piet Bakker;jan@example.org\n"
            "900006;Goed;Kind;2012-01-01;1A;;\n").encode()
    response = client.post("/people/import", data={
        "csrf_token": token, "file": (BytesIO(body), "export.csv"), "kind": "student"},
        content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for dutch in ("de regel is niet ingelezen", "aanhalingsteken dat niet wordt gesloten",
                  "deze regel is gescheiden door &#39;,&#39;", "ligt in de toekomst",
                  "hoort al bij ouder/verzorger Jan de Vries", "conflict: met de hand controleren"):
        assert dutch in html, dutch
    assert "conflict: met de hand controleren: 1" in html and "check by hand" not in html
    assert _person(db_session, school, "900006") is not None


def test_a_stray_quote_inside_a_value_is_a_line_error(db_session) -> None:
    school = factories.school(db_session)
    report = _import(db_session, school, '510001;"Dik"ke;Quote;2012-01-01;1A;;\n510002;Eva;Na;2012-02-02;1A;;\n')
    assert [(r.line, r.status) for r in report.rows] == [(2, "rejected"), (3, "created")]
    assert "quotation mark" in report.rows[0].reason
