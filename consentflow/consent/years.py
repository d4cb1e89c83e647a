"""School years and versioned consent forms."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.errors import InvalidInput, NotFound
from consentflow.models import DEFAULT_PURPOSES, ConsentForm, School, SchoolYear

DEFAULT_TITLE = "Toestemming beeldmateriaal / Consent for photos and video"
DEFAULT_WORDING = (
    "Op school maken wij foto's en video's van activiteiten. Wij vragen ieder schooljaar "
    "per gebruik om toestemming. U kunt uw keuze altijd wijzigen of intrekken via dezelfde link.\n\n"
    "At school we take photos and videos of activities. Every school year we ask consent for "
    "each use separately. You can change or withdraw your choice at any time with the same link."
)


def year_bounds(start_month: int, start_day: int, on: date) -> tuple[date, date]:
    """First and last day of the school year that contains ``on``."""
    start = date(on.year, start_month, start_day)
    if on < start:
        start = date(on.year - 1, start_month, start_day)
    end = date(start.year + 1, start_month, start_day) - timedelta(days=1)
    return start, end


def year_label(starts_on: date, ends_on: date) -> str:
    return f"{starts_on.year}-{ends_on.year}" if starts_on.year != ends_on.year else str(starts_on.year)


def school_year_on(session: Session, school_id: int, on: date) -> SchoolYear | None:
    """The SchoolYear row containing ``on``, if it has been created."""
    return session.scalar(
        select(SchoolYear).where(SchoolYear.school_id == school_id, SchoolYear.starts_on <= on,
                                 SchoolYear.ends_on >= on)
    )


def ensure_school_year(session: Session, *, actor: Actor, school_id: int, on: date,
                       now: datetime) -> SchoolYear:
    """The school year containing ``on``, created from the school's start day if missing."""
    existing = school_year_on(session, school_id, on)
    if existing:
        return existing
    school = session.get(School, school_id)
    if school is None:
        raise NotFound("No such school.")
    try:
        starts, ends = year_bounds(school.year_start_month, school.year_start_day, on)
    except ValueError as err:
        raise InvalidInput("The school's year start day is not a valid date.") from err
    overlap = session.scalar(
        select(SchoolYear).where(SchoolYear.school_id == school_id, SchoolYear.starts_on <= ends,
                                 SchoolYear.ends_on >= starts)
    )
    if overlap:
        raise InvalidInput("School year %(label)s overlaps %(starts)s–%(ends)s.", label=overlap.label,
                           starts=starts.isoformat(), ends=ends.isoformat())
    year = SchoolYear(school_id=school_id, label=year_label(starts, ends), starts_on=starts, ends_on=ends)
    session.add(year)
    session.flush()
    record_event(session, actor=actor, school_id=school_id, action="school_year.create",
                 object_type="school_year", object_id=year.id,
                 details={"starts_on": starts.isoformat(), "ends_on": ends.isoformat()}, now=now)
    return year


def latest_form(session: Session, school_year_id: int) -> ConsentForm | None:
    return session.scalar(
        select(ConsentForm).where(ConsentForm.school_year_id == school_year_id)
        .order_by(ConsentForm.version.desc()).limit(1)
    )


def create_form_version(session: Session, *, actor: Actor, school_id: int, school_year_id: int,
                        title: str, wording: str, purposes: list[str] | None,
                        now: datetime) -> ConsentForm:
    """A new version of the year's form; earlier versions stay as the records answered them."""
    year = session.get(SchoolYear, school_year_id)
    if year is None or year.school_id != school_id:
        raise NotFound("No such school year.")
    chosen = list(dict.fromkeys(purposes if purposes is not None else DEFAULT_PURPOSES))
    if not chosen:
        raise InvalidInput("A form asks at least one purpose.")
    bad = [p for p in chosen if p not in DEFAULT_PURPOSES]
    if bad:
        raise InvalidInput("Unknown purpose(s): %(list)s.", list=", ".join(bad))
    if not title.strip() or not wording.strip():
        raise InvalidInput("A form needs a title and its wording.")
    current = session.scalar(
        select(func.max(ConsentForm.version)).where(ConsentForm.school_year_id == school_year_id)
    )
    form = ConsentForm(school_id=school_id, school_year_id=school_year_id,
                       version=(current or 0) + 1, title=title.strip()[:200],
                       wording=wording.strip(), purposes=chosen, created_at=now)
    session.add(form)
    session.flush()
    record_event(session, actor=actor, school_id=school_id, action="consent_form.create",
                 object_type="consent_form", object_id=form.id,
                 details={"school_year_id": school_year_id, "version": form.version,
                          "purposes": chosen}, now=now)
    return form


def ensure_default_form(session: Session, *, actor: Actor, school_id: int, school_year_id: int,
                        now: datetime) -> ConsentForm:
    """The year's latest form, or a first version with the default wording and purposes."""
    return latest_form(session, school_year_id) or create_form_version(
        session, actor=actor, school_id=school_id, school_year_id=school_year_id,
        title=DEFAULT_TITLE, wording=DEFAULT_WORDING, purposes=list(DEFAULT_PURPOSES), now=now)
