"""The signer rule and signing dates, value by value (no database: transient rows).

Mutation testing (bench/mutate.py) showed that consent/signer.py could lose
the 29 February birthday, the window of dates an admin is told, the staff
rule, the "no guardian" and "no date of birth" answers or the words of a
refusal, with the suite green. Each is pinned here.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from consentflow.consent.signer import (
    Signers,
    SigningDateInvalid,
    age_on,
    check_signer,
    check_signing_date,
    end_of_school_day,
    local_date,
    signers_of,
    signs_for_self,
    sixteenth_birthday,
)
from consentflow.errors import SignerRuleViolation
from consentflow.models import Guardian, Person

YEAR = dict(year_starts=date(2026, 8, 1), year_ends=date(2027, 7, 31), form_created=date(2026, 9, 1),
            today=date(2026, 10, 6))


def _person(dob: date | None = date(2010, 9, 15), kind: str = "student", pid: int = 1) -> Person:
    return Person(id=pid, school_id=1, kind=kind, first_name="Sam", last_name="de Vries", date_of_birth=dob,
                  external_id=str(pid))


def _guardian(*children: Person, school_id: int = 1) -> Guardian:
    guardian = Guardian(id=9, school_id=school_id, name="Anna de Vries")
    guardian.children.extend(children)
    return guardian


def test_age_counts_completed_years() -> None:
    born = date(2010, 9, 15)
    assert age_on(born, date(2026, 9, 14)) == 15
    assert age_on(born, date(2026, 9, 15)) == 16
    assert age_on(born, date(2026, 12, 31)) == 16
    assert age_on(born, date(2027, 1, 1)) == 16


def test_sixteenth_birthday() -> None:
    assert sixteenth_birthday(date(2010, 9, 15)) == date(2026, 9, 15)
    # 16 years after a leap year is a leap year again...
    assert sixteenth_birthday(date(2008, 2, 29)) == date(2024, 2, 29)
    # ...except across a skipped century leap year: 2100 has no 29 February.
    assert sixteenth_birthday(date(2084, 2, 29)) == date(2100, 3, 1)


def test_staff_always_sign_for_themselves_and_students_from_16() -> None:
    assert signs_for_self(_person(dob=None, kind="staff"), date(2026, 1, 1)) is True
    assert signs_for_self(_person(), date(2026, 9, 14)) is False
    assert signs_for_self(_person(), date(2026, 9, 15)) is True
    with pytest.raises(SignerRuleViolation) as refused:
        signs_for_self(_person(dob=None), date(2026, 9, 15))
    assert str(refused.value) == ("The date of birth of Sam de Vries is unknown, so the system cannot tell "
                                  "who must sign. Record the date of birth first.")


def test_refusals_name_who_must_sign() -> None:
    student = _person()
    with pytest.raises(SignerRuleViolation) as adult:
        check_signer(student, "guardian", _guardian(student), date(2026, 9, 15))
    assert str(adult.value) == ("Sam de Vries is 16 or older on 2026-09-15 and must sign for themself; "
                                "a guardian's signature is not valid.")
    with pytest.raises(SignerRuleViolation) as staff:
        check_signer(_person(kind="staff"), "guardian", None, date(2026, 9, 15))
    assert str(staff.value).startswith("Sam de Vries is a staff member on 2026-09-15 and must sign")
    for kind, guardian in (("self", _guardian(student)), ("guardian", None)):
        with pytest.raises(SignerRuleViolation) as young:
            check_signer(student, kind, guardian, date(2026, 9, 14))
        assert str(young.value) == ("Sam de Vries is under 16 on 2026-09-14: a parent or guardian "
                                    "linked to them must sign.")
    stranger = _guardian(_person(pid=2))
    other_school = _guardian(student, school_id=2)
    for guardian in (stranger, other_school):
        with pytest.raises(SignerRuleViolation) as unlinked:
            check_signer(student, "guardian", guardian, date(2026, 9, 14))
        assert str(unlinked.value) == "Anna de Vries is not registered as a guardian of Sam de Vries."
    check_signer(student, "guardian", _guardian(student), date(2026, 9, 14))
    check_signer(student, "self", None, date(2026, 9, 15))


def test_signers_of_each_case() -> None:
    young = _person()
    assert signers_of(young, date(2026, 9, 14)) == Signers(False, (), "no guardian")
    parent = _guardian(young)
    assert signers_of(young, date(2026, 9, 14)) == Signers(False, (parent,), None)
    assert signers_of(young, date(2026, 9, 15)) == Signers(True, (), None)
    assert signers_of(_person(dob=None), date(2026, 9, 15)) == Signers(False, (), "no date of birth")
    assert not signers_of(_person(dob=None), date(2026, 9, 15)).reachable
    assert signers_of(young, date(2026, 9, 14)).reachable


@pytest.mark.parametrize(("signed_on", "reason", "words"), [
    (date(2026, 10, 7), "future", "The signing date 2026-10-07 lies in the future."),
    (date(2026, 7, 31), "outside_year", "The signing date 2026-07-31 lies outside the form's school year "
                                        "(2026-08-01 to 2027-07-31)."),
    (date(2026, 8, 31), "before_form", "The signing date 2026-08-31 lies before this form version existed "
                                       "(2026-09-01)."),
])
def test_a_refused_signing_date_says_why_and_which_dates_fit(signed_on, reason, words) -> None:
    with pytest.raises(SigningDateInvalid) as refused:
        check_signing_date(signed_on, **YEAR)
    error = refused.value
    assert (error.reason, error.signed_on, error.first, error.last) == (
        reason, signed_on, date(2026, 9, 1), date(2026, 10, 6))
    assert str(error) == words


def test_the_first_and_last_day_of_a_year_are_in_it() -> None:
    whole_year = dict(YEAR, form_created=date(2026, 8, 1), today=date(2027, 7, 31))
    check_signing_date(date(2026, 8, 1), **whole_year)
    check_signing_date(date(2027, 7, 31), **whole_year)
    with pytest.raises(SigningDateInvalid):
        check_signing_date(date(2027, 8, 1), **dict(whole_year, today=date(2027, 8, 1)))


def test_school_dates_are_dutch_dates() -> None:
    # 23:30 UTC on 14 September is 01:30 on the 15th in Amsterdam.
    assert local_date(datetime(2026, 9, 14, 23, 30, tzinfo=timezone.utc)) == date(2026, 9, 15)
    end = end_of_school_day(date(2026, 9, 15))
    assert end == datetime(2026, 9, 15, 22, 0, tzinfo=timezone.utc)
