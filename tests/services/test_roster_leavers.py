"""Roster lifecycle: an import never marks anyone as left; only a confirmation of exactly the list shown does.

Leaving deletes reference faces, so these are privacy rules: each test below
was seen failing with the rule broken (import marking people left again; the
confirmation skipping the roster check).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from consentflow.errors import Forbidden, InvalidState
from consentflow.models import AuditEvent, Person, ReferenceFace
from consentflow.people.leavers import confirm_leavers
from consentflow.people.service import import_roster
from tests import factories
from tests.jobs.photo_helpers import ACTOR, NOW, TODAY, enrol

pytestmark = pytest.mark.slow  # real face detection for the reference faces

SECRET = "test-secret-for-the-leavers-token"
HEADER = "Leerlingnummer;Roepnaam;Achternaam;Geboortedatum;Klas\n"
# The file of the issue: five rows, none of them the three students already enrolled.
FIVE_ROWS = HEADER + "".join(f"60000{i};Kind{i};Nieuw;2014-0{i}-01;4B\n" for i in range(1, 6))


def _import(db_session: Any, school: Any, body: str, **kwargs: Any):
    return import_roster(db_session, actor=ACTOR, school_id=school.id, data=body.encode(), kind="student",
                         today=TODAY, now=NOW, secret=SECRET, **kwargs)


def _confirm(db_session: Any, school: Any, token: str | None):
    return confirm_leavers(db_session, actor=ACTOR, school_id=school.id, token=token or "", secret=SECRET,
                           today=TODAY, now=NOW)


def _refs(db_session: Any) -> int:
    return db_session.scalar(select(func.count()).select_from(ReferenceFace))


def _school_with_three_enrolled(app: Any, db_session: Any) -> tuple[Any, list[Person]]:
    school = factories.school(db_session, biometric_mode="all")
    people = [factories.person(db_session, school=school, external_id=f"10000{i}", first=f"Oud{i}",
                               last="Leerling") for i in range(1, 4)]
    for person, portrait in zip(people, ("obama.jpg", "biden.jpg", "obama2.jpg"), strict=True):
        enrol(app, db_session, school, person, portrait)
    return school, people


def test_an_import_marks_nobody_left_and_keeps_every_face(app, db_session) -> None:
    school, people = _school_with_three_enrolled(app, db_session)
    plain = _import(db_session, school, FIVE_ROWS)  # the option is off by default
    assert not plain.leavers_checked and plain.leavers == []
    report = _import(db_session, school, FIVE_ROWS, full_export=True)
    assert report.counts["created"] == 0 and report.counts["unchanged"] == 5
    # Listed with what leaving would delete, but nobody is marked and nothing is deleted.
    assert sorted((leaver.external_id, leaver.reference_faces) for leaver in report.leavers) == [
        ("100001", 1), ("100002", 1), ("100003", 1)]
    assert report.leave_token
    assert all(person.left_on is None for person in people)
    assert _refs(db_session) == 3
    assert not db_session.scalars(select(AuditEvent).where(AuditEvent.action == "person.left")).all()


def test_a_dry_run_lists_leavers_without_a_token(app, db_session) -> None:
    school, people = _school_with_three_enrolled(app, db_session)
    report = _import(db_session, school, FIVE_ROWS, full_export=True, dry_run=True)
    assert len(report.leavers) == 3 and report.leave_token is None
    assert all(person.left_on is None for person in people)


def test_confirmation_marks_exactly_the_list_and_deletes_their_faces(app, db_session) -> None:
    school, people = _school_with_three_enrolled(app, db_session)
    keep = HEADER + "100001;Oud1;Leerling;2012-05-01;1A\n"
    report = _import(db_session, school, keep, full_export=True)
    assert [leaver.external_id for leaver in report.leavers] == ["100002", "100003"]
    confirmed = _confirm(db_session, school, report.leave_token)
    assert sorted(leaver.external_id for leaver in confirmed) == ["100002", "100003"]
    assert people[0].left_on is None
    assert people[1].left_on == TODAY and people[2].left_on == TODAY
    assert db_session.scalars(select(ReferenceFace.person_id)).all() == [people[0].id]
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "person.left")).all()
    assert sorted(e.object_id for e in events) == sorted([str(people[1].id), str(people[2].id)])
    # The same confirmation cannot be used twice.
    with pytest.raises(InvalidState):
        _confirm(db_session, school, report.leave_token)


def test_a_stale_confirmation_is_refused(app, db_session) -> None:
    school, people = _school_with_three_enrolled(app, db_session)
    keep = HEADER + "100001;Oud1;Leerling;2012-05-01;1A\n"
    first = _import(db_session, school, keep, full_export=True)
    # In between, another export brings 100002 back (as the administration corrected itself).
    _import(db_session, school, keep + "100002;Oud2;Leerling;2012-05-01;1A\n")
    with pytest.raises(InvalidState, match="roster changed"):
        _confirm(db_session, school, first.leave_token)
    assert all(person.left_on is None for person in people)
    assert _refs(db_session) == 3


def test_a_new_reference_face_in_between_makes_the_list_stale(app, db_session) -> None:
    school, people = _school_with_three_enrolled(app, db_session)
    report = _import(db_session, school, HEADER + "100001;Oud1;Leerling;2012-05-01;1A\n", full_export=True)
    enrol(app, db_session, school, people[1], "obama_small.jpg")  # what leaving deletes has changed
    with pytest.raises(InvalidState, match="roster changed"):
        _confirm(db_session, school, report.leave_token)
    assert people[1].left_on is None and _refs(db_session) == 4


def test_a_forged_expired_or_foreign_confirmation_is_refused(app, db_session) -> None:
    school, people = _school_with_three_enrolled(app, db_session)
    report = _import(db_session, school, HEADER + "100001;Oud1;Leerling;2012-05-01;1A\n", full_export=True)
    token = report.leave_token or ""
    with pytest.raises(InvalidState):
        _confirm(db_session, school, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(InvalidState):
        confirm_leavers(db_session, actor=ACTOR, school_id=school.id, token=token, secret="another secret",
                        today=TODAY, now=NOW)
    with pytest.raises(InvalidState):  # max_age -1: any token is already too old
        confirm_leavers(db_session, actor=ACTOR, school_id=school.id, token=token, secret=SECRET,
                        today=TODAY, now=NOW + timedelta(hours=2), max_age=-1)
    other = factories.school(db_session, name="Andere school")
    with pytest.raises(Forbidden):
        confirm_leavers(db_session, actor=ACTOR, school_id=other.id, token=token, secret=SECRET,
                        today=TODAY, now=NOW)
    assert all(person.left_on is None for person in people) and _refs(db_session) == 3
