"""Coverage of a school year: per class and purpose, consented / refused / missing."""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from consentflow.consent.effective import effective_records
from consentflow.consent.purposes import purpose_label
from consentflow.consent.rounds import active_people
from consentflow.consent.signer import signers_of
from consentflow.consent.years import latest_form
from consentflow.exports import csv_writer
from consentflow.labels import label
from consentflow.models import DEFAULT_PURPOSES, ConsentRecord, Person, SchoolYear

STAFF_GROUP = "staff"


def group_label(group: str) -> str:
    """A class as people call it; staff are listed as one group under its Dutch name."""
    return label("staff", "person_kind") if group == STAFF_GROUP else group


@dataclass
class Cell:
    yes: int = 0
    no: int = 0
    missing: int = 0

    @property
    def total(self) -> int:
        return self.yes + self.no + self.missing

    def pct(self, part: int) -> float:
        return round(100.0 * part / self.total, 1) if self.total else 0.0

    @property
    def yes_pct(self) -> float:
        return self.pct(self.yes)

    @property
    def no_pct(self) -> float:
        return self.pct(self.no)

    @property
    def missing_pct(self) -> float:
        return self.pct(self.missing)


@dataclass
class GroupRow:
    group: str
    people: int
    cells: list[Cell]


@dataclass(frozen=True)
class RemindRow:
    person: Person
    contacts: tuple[str, ...]  # guardian or own e-mail addresses
    names: tuple[str, ...]


@dataclass
class Coverage:
    year: SchoolYear
    on: date
    purposes: list[str]
    labels: list[str]
    totals: list[Cell]
    groups: list[GroupRow] = field(default_factory=list)
    remind: list[RemindRow] = field(default_factory=list)
    people: int = 0


def reference_date(year: SchoolYear, today: date) -> date:
    """The day whose population is counted: today, clipped into the school year."""
    return min(max(today, year.starts_on), year.ends_on)


def _group_of(person: Person) -> str:
    return STAFF_GROUP if person.kind == "staff" else (person.group_name or "—")


def _contacts(person: Person, on: date) -> RemindRow:
    """Whom to remind: whoever signs for the person on that day (signer.signers_of, one definition)."""
    signers = signers_of(person, on)
    if signers.guardians:
        return RemindRow(person, tuple(g.email for g in signers.guardians if g.email),
                         tuple(g.name for g in signers.guardians))
    if signers.self_signs:
        return RemindRow(person, tuple(filter(None, [person.email])), (person.full_name,))
    return RemindRow(person, (), ())  # nobody can be asked: no date of birth or no guardian


def compute_coverage(session: Session, *, school_id: int, year: SchoolYear, today: date,
                     group: str | None = None) -> Coverage:
    """Counts per class × purpose and the people with no answer at all (to remind)."""
    on = reference_date(year, today)
    form = latest_form(session, year.id)
    purposes = list(form.purposes) if form else list(DEFAULT_PURPOSES)
    people = active_people(session, school_id, on)
    records = effective_records(session, [p.id for p in people], on)
    by_group: dict[str, list[Person]] = defaultdict(list)
    for person in people:
        by_group[_group_of(person)].append(person)
    cov = Coverage(year=year, on=on, purposes=purposes, labels=[purpose_label(p) for p in purposes],
                   totals=[Cell() for _ in purposes], people=len(people))
    for name in sorted(by_group, key=lambda g: (g == STAFF_GROUP, g)):
        cells = [Cell() for _ in purposes]
        for person in by_group[name]:
            record = records.get(person.id)
            for i, purpose in enumerate(purposes):
                _count(cells[i], cov.totals[i], record, purpose)
            if record is None and (group is None or group == name):
                cov.remind.append(_contacts(person, on))
        cov.groups.append(GroupRow(name, len(by_group[name]), cells))
    return cov


def _count(cell: Cell, total: Cell, record: ConsentRecord | None, purpose: str) -> None:
    if record is None or purpose not in record.decisions:
        cell.missing += 1
        total.missing += 1
    elif record.decisions[purpose] is True:
        cell.yes += 1
        total.yes += 1
    else:
        cell.no += 1
        total.no += 1


def counts_csv(cov: Coverage) -> str:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow([str(h) for h in (_l("Class"), _l("Purpose"), _l("Consented"), _l("Refused"),
                                      _l("Missing"), _l("People"))])
    for row in cov.groups:
        for purpose, cell in zip(cov.purposes, row.cells, strict=True):
            writer.writerow([group_label(row.group), purpose_label(purpose), cell.yes, cell.no,
                             cell.missing, cell.total])
    return out.getvalue()


def remind_csv(cov: Coverage) -> str:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow([str(h) for h in (_l("Student number"), _l("First name"), _l("Last name"),
                                      _l("Class"), _l("Contact names"), _l("Contact e-mail addresses"))])
    for row in cov.remind:
        p = row.person
        writer.writerow([p.external_id, p.first_name, p.last_name, group_label(_group_of(p)),
                         ", ".join(row.names), ", ".join(row.contacts)])
    return out.getvalue()
