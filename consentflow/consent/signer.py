"""The signer rule (UAVG art. 5): under 16 a guardian signs, from 16 the student signs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from consentflow.errors import InvalidInput, SignerRuleViolation
from consentflow.models import Guardian, Person

SELF_AGE = 16
# Signing dates are school dates: a form signed at 00:30 Dutch time on the 16th
# birthday is signed on the birthday, though it is still the day before in UTC.
SCHOOL_TZ = ZoneInfo("Europe/Amsterdam")


def local_date(moment: datetime) -> date:
    return moment.astimezone(SCHOOL_TZ).date()


def end_of_school_day(day: date) -> datetime:
    """The UTC moment a school day ends (midnight after it, school time): links expire then."""
    return datetime.combine(day + timedelta(days=1), time(0), SCHOOL_TZ).astimezone(timezone.utc)


class SigningDateInvalid(InvalidInput):
    """The signing date cannot belong to this record's form (the view words it for the admin)."""

    def __init__(self, reason: str, signed_on: date, first: date, last: date, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # future | outside_year | before_form
        self.signed_on = signed_on
        self.first = first  # the window of dates this form version can carry
        self.last = last


def check_signing_date(signed_on: date, *, year_starts: date, year_ends: date, form_created: date,
                       today: date) -> None:
    """A record is signed within its form's school year, not before that version existed, not after today.

    Consent counts for the school year it was given in: a signature from an
    earlier year (when a 17-year-old was still 15, say) cannot be filed as this
    year's answer, and the signer rule is checked on the real signing date.
    """
    first, last = max(year_starts, form_created), min(year_ends, today)
    if signed_on > today:
        raise SigningDateInvalid("future", signed_on, first, last,
                                 f"The signing date {signed_on.isoformat()} lies in the future.")
    if not year_starts <= signed_on <= year_ends:
        raise SigningDateInvalid(
            "outside_year", signed_on, first, last,
            f"The signing date {signed_on.isoformat()} lies outside the form's school year "
            f"({year_starts.isoformat()} to {year_ends.isoformat()}).")
    if signed_on < form_created:
        raise SigningDateInvalid(
            "before_form", signed_on, first, last,
            f"The signing date {signed_on.isoformat()} lies before this form version existed "
            f"({form_created.isoformat()}).")


def age_on(date_of_birth: date, day: date) -> int:
    """Completed years on ``day`` (born 29 February: the birthday is 1 March in other years)."""
    years = day.year - date_of_birth.year
    if (day.month, day.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def sixteenth_birthday(date_of_birth: date) -> date:
    try:
        return date_of_birth.replace(year=date_of_birth.year + SELF_AGE)
    except ValueError:  # 29 February
        return date(date_of_birth.year + SELF_AGE, 3, 1)


def signs_for_self(person: Person, on: date) -> bool:
    """Staff always; students from their 16th birthday."""
    if person.kind == "staff":
        return True
    if person.date_of_birth is None:
        raise SignerRuleViolation(
            f"The date of birth of {person.full_name} is unknown, so the system cannot tell "
            "who must sign. Record the date of birth first."
        )
    return age_on(person.date_of_birth, on) >= SELF_AGE


def check_signer(person: Person, signer_kind: str, guardian: Guardian | None, signed_on: date) -> None:
    """Refuse a signer the rule does not allow on the signing date."""
    if signs_for_self(person, signed_on):
        if signer_kind != "self":
            who = "a staff member" if person.kind == "staff" else "16 or older"
            raise SignerRuleViolation(
                f"{person.full_name} is {who} on {signed_on.isoformat()} and must sign for "
                "themself; a guardian's signature is not valid."
            )
        return
    if signer_kind != "guardian" or guardian is None:
        raise SignerRuleViolation(
            f"{person.full_name} is under 16 on {signed_on.isoformat()}: a parent or guardian "
            "linked to them must sign."
        )
    if guardian.school_id != person.school_id or person.id not in {c.id for c in guardian.children}:
        raise SignerRuleViolation(
            f"{guardian.name} is not registered as a guardian of {person.full_name}."
        )


@dataclass(frozen=True)
class Signers:
    """Who signs for a person on a day: the one answer every list and mailing uses."""

    self_signs: bool
    guardians: tuple[Guardian, ...]  # empty when the person signs themself
    problem: str | None = None  # "no date of birth" | "no guardian": nobody can be asked

    @property
    def reachable(self) -> bool:
        return self.problem is None


def signers_of(person: Person, on: date) -> Signers:
    """The signer rule as a list: the person themself (staff, 16+) or each linked guardian.

    Coverage, reminders, mailings and the person page all ask this, so they
    never disagree about a 17-year-old whose guardians are still on file.
    """
    try:
        self_signs = signs_for_self(person, on)
    except SignerRuleViolation:
        return Signers(False, (), "no date of birth")
    if self_signs:
        return Signers(True, ())
    guardians = tuple(person.guardians)
    if not guardians:
        return Signers(False, (), "no guardian")
    return Signers(False, guardians)
