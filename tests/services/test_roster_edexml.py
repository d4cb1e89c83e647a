"""EDEXML 2.1 roster import: validated against the standard's XSD, same rows and rules as CSV,
hostile XML refused before anything is read from it."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import func, select

from consentflow.audit.service import Actor
from consentflow.models import Person
from consentflow.people.import_edexml import edexml_schema
from consentflow.people.rows import RosterFileError
from consentflow.people.service import import_roster
from tests import factories
from tests.conftest import DATA_DIR

ROSTERS = DATA_DIR / "rosters"
NOW = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)


def _import(db_session: Any, school: Any, data: bytes | str, kind: str = "student", **kwargs: Any):
    if isinstance(data, str):
        data = (ROSTERS / data).read_bytes()
    return import_roster(db_session, actor=Actor.system("test"), school_id=school.id, data=data, kind=kind,
                         today=NOW.date(), now=NOW, **kwargs)


def _person(db_session: Any, school: Any, number: str) -> Person | None:
    return db_session.scalar(select(Person).where(Person.school_id == school.id, Person.external_id == number))


def _count(db_session: Any) -> int:
    return db_session.scalar(select(func.count()).select_from(Person))


def test_the_sample_files_are_judged_by_the_real_schema() -> None:
    schema = edexml_schema()
    assert schema.validate(etree.parse(str(ROSTERS / "edexml_valid.xml")))
    assert schema.validate(etree.parse(str(ROSTERS / "edexml_conflict.xml")))
    assert not schema.validate(etree.parse(str(ROSTERS / "edexml_invalid_rows.xml")))
    assert not schema.validate(etree.parse(str(ROSTERS / "edexml_invalid_school.xml")))


def test_students_groups_and_keys_are_imported_like_a_csv(db_session) -> None:
    school = factories.school(db_session)
    report = _import(db_session, school, "edexml_valid.xml")
    assert report.file_format == "edexml"
    assert report.counts == {"created": 3, "updated": 0, "unchanged": 0, "conflict": 0, "gone": 1,
                             "rejected": 1}
    emma = _person(db_session, school, "300001")
    assert (emma.first_name, emma.last_name, emma.date_of_birth, emma.group_name, emma.email, emma.kind) == (
        "Emma", "de Vries", date(2017, 3, 14), "Groep 5A", "emma.devries@leerling.example.org", "student")
    assert emma.enrolled_on == date(2021, 8, 30)
    daan = _person(db_session, school, "300002")
    assert daan.first_name == "Daan" and daan.group_name == "Groep 6B"  # first of voornamen without roepnaam
    by_number = {r.external_id: r for r in report.rows}
    assert by_number["300003"].status == "created" and "geen-adres" in by_number["300003"].reason
    assert by_number["300004"].status == "gone" and _person(db_session, school, "300004") is None
    assert by_number["300005"].status == "rejected" and "no date of birth" in by_number["300005"].reason
    assert by_number["300005"].line == 66  # the line of the <leerling> in the file
    again = _import(db_session, school, "edexml_valid.xml")
    assert again.counts["unchanged"] == 3 and again.counts["created"] == 0
    assert _count(db_session) == 3


def test_teachers_are_imported_as_staff(db_session) -> None:
    school = factories.school(db_session)
    report = _import(db_session, school, "edexml_valid.xml", kind="staff")
    assert report.counts["created"] == 2
    smit = _person(db_session, school, "LK01")
    assert smit.kind == "staff" and smit.email == "a.smit@school.example.org"
    assert _person(db_session, school, "LK02").last_name == "de Boer"


def test_a_dry_run_changes_nothing(db_session) -> None:
    school = factories.school(db_session)
    report = _import(db_session, school, "edexml_valid.xml", dry_run=True)
    assert report.dry_run and report.counts["created"] == 3
    db_session.rollback()
    assert _count(db_session) == 0


def test_schema_errors_inside_a_student_cost_that_row_only(db_session) -> None:
    school = factories.school(db_session)
    report = _import(db_session, school, "edexml_invalid_rows.xml")
    by_line = {r.line: r for r in report.rows}
    assert [r.status for r in report.rows] == ["created", "rejected", "rejected", "rejected", "rejected",
                                               "created"]
    assert "'2015-02-31' is not a valid value" in by_line[23].reason
    assert "key 'G9' does not exist" in by_line[29].reason
    # The duplicate key: the import's own rule answers first, as for a CSV.
    assert "appears earlier on line 17" in by_line[35].reason
    assert "<geslacht>" in by_line[40].reason
    assert _count(db_session) == 2


def test_a_schema_error_outside_the_students_refuses_the_file(db_session) -> None:
    school = factories.school(db_session)
    with pytest.raises(RosterFileError, match="does not follow the EDEXML 2.1 schema") as caught:
        _import(db_session, school, "edexml_invalid_school.xml")
    assert "'ZZ99'" in caught.value.message and "line 8" in caught.value.message
    assert _count(db_session) == 0


def test_an_error_that_cannot_be_placed_on_one_student_refuses_the_file(db_session) -> None:
    """On one line, a key error (reported by line only) could be anyone's: the file is refused."""
    school = factories.school(db_session)
    one_line = re.sub(rb">\s+<", b"><", (ROSTERS / "edexml_invalid_rows.xml").read_bytes())
    with pytest.raises(RosterFileError, match="key 'G9' does not exist"):
        _import(db_session, school, one_line)
    assert _count(db_session) == 0


def test_a_valid_file_that_conflicts_gets_the_same_answers_as_csv(db_session) -> None:
    school = factories.school(db_session)
    _import(db_session, school, "edexml_valid.xml")
    _import(db_session, school, "edexml_valid.xml", kind="staff")
    report = _import(db_session, school, "edexml_conflict.xml")
    by_number = {r.external_id: r for r in report.rows}
    assert by_number["300002"].status == "updated" and _person(db_session, school, "300002").group_name == "Groep 7C"
    assert by_number["LK01"].status == "rejected" and "belongs to a staff member" in by_number["LK01"].reason
    assert _person(db_session, school, "LK01").kind == "staff"
    assert by_number["300009"].status == "rejected" and "lies in the future" in by_number["300009"].reason


def test_a_full_edexml_export_lists_who_is_missing_and_who_it_says_has_gone(db_session) -> None:
    school = factories.school(db_session)
    sem = factories.person(db_session, school=school, external_id="300004", first="Sem", last="Jansen")
    other = factories.person(db_session, school=school, external_id="299999", first="Niet", last="Meer")
    report = _import(db_session, school, "edexml_valid.xml", full_export=True, secret="s")
    assert sorted(leaver.external_id for leaver in report.leavers) == ["299999", "300004"]
    assert sem.left_on is None and other.left_on is None  # listed, not marked
    # A rejected row (no date of birth) still proves 300005 is on the export: never listed.
    assert "300005" not in {leaver.external_id for leaver in report.leavers}


@pytest.mark.parametrize("name", ["edexml_billion_laughs.xml", "edexml_xxe.xml"])
def test_entities_and_doctype_are_refused(db_session, name: str) -> None:
    school = factories.school(db_session)
    with pytest.raises(RosterFileError, match="DOCTYPE or ENTITY") as caught:
        _import(db_session, school, name)
    assert "aaaaaaaaaa" not in caught.value.message
    assert _count(db_session) == 0


def test_entities_hidden_behind_a_long_comment_are_still_refused(db_session) -> None:
    """The quick check reads the first 4 KB; the parser itself must not expand or fetch anything."""
    school = factories.school(db_session)
    hostname = Path("/etc/hostname").read_text(encoding="utf-8").strip()
    for name in ("edexml_billion_laughs.xml", "edexml_xxe.xml"):
        # Only the local-file entity is used, so a parser that resolved it would import a valid file.
        data = (ROSTERS / name).read_bytes().replace(b"<roepnaam>&remote;</roepnaam>", b"<roepnaam>X</roepnaam>")
        padded = data.replace(b"<!DOCTYPE", b"<!--" + b" " * 8000 + b"-->\n<!DOCTYPE", 1)
        with pytest.raises(RosterFileError) as caught:
            _import(db_session, school, padded)
        assert "aaaaaaaaaa" not in caught.value.message
        assert not hostname or hostname not in caught.value.message
    assert _count(db_session) == 0


def test_deep_and_huge_xml_is_refused(db_session) -> None:
    school = factories.school(db_session)
    deep = b"<EDEX>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</EDEX>"
    with pytest.raises(RosterFileError, match="not readable XML"):
        _import(db_session, school, deep)
    huge = b"<EDEX><school>" + b"x" * (11 * 1024 * 1024) + b"</school></EDEX>"
    with pytest.raises(RosterFileError, match="not readable XML"):
        _import(db_session, school, huge)
    with pytest.raises(RosterFileError, match="not an EDEXML export"):
        _import(db_session, school, b"<?xml version='1.0'?><roster><student/></roster>")
    assert _count(db_session) == 0
