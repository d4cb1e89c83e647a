"""Roster import (CSV or EDEXML): re-import updates, never duplicates; nobody is marked left by an import.

Both formats are parsed into the same rows (``import_csv``, ``import_edexml``)
and go through the one set of rules below. When the admin says the file is a
full export, the report lists who is missing and what leaving would delete,
with a signed token for the separate confirmation (``leavers``).

A guardian is found by e-mail address. When the address of a row's guardian
already belongs to a guardian with another name, the import cannot tell a
sibling's parent from a typo or a shared family address: the row is a
``conflict`` (the person is saved, none of the row's guardians is linked) and
the report names the existing guardian, for a person to resolve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from consentflow.audit.service import Actor, record_event
from consentflow.errors import InvalidInput, NotFound
from consentflow.locking import serialise
from consentflow.models import Guardian, Person, School, person_guardian
from consentflow.people.import_csv import parse_roster
from consentflow.people.import_edexml import looks_like_xml, parse_edexml
from consentflow.people.leavers import Leaver, find_leavers, leavers_token
from consentflow.people.rows import GuardianIn, ParsedFile, ParsedRow, field_label

KINDS = ("student", "staff")


@dataclass
class RowResult:
    line: int
    external_id: str
    name: str
    status: str  # created | updated | unchanged | conflict | rejected | gone | left
    reason: str = ""


@dataclass
class ImportReport:
    kind: str
    dry_run: bool
    full_export: bool
    rows: list[RowResult] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    ignored_headers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    file_format: str = "csv"
    # Full export only: who is missing and would leave on confirmation (nobody is marked here).
    leavers: list[Leaver] = field(default_factory=list)
    leave_token: str | None = None  # None on a dry run or when nobody may be marked
    leavers_checked: bool = False  # the list above was computed (full export, file usable)

    @property
    def recognised(self) -> list[tuple[str, str]]:
        """(column or element in the file, what it is read as), for the page."""
        return [(header, field_label(name)) for name, header in self.mapping.items()]

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def counts(self) -> dict[str, int]:
        return {s: self.count(s) for s in ("created", "updated", "unchanged", "conflict", "gone", "rejected")}


def parse_export(data: bytes, kind: str, today: date) -> ParsedFile:
    """CSV or EDEXML, told apart by the content (an XML document starts with '<')."""
    return parse_edexml(data, kind, today) if looks_like_xml(data) else parse_roster(data, kind, today)


def import_roster(session: Session, *, actor: Actor, school_id: int, data: bytes, kind: str,
                  today: date, now: datetime, full_export: bool = False,
                  dry_run: bool = False, secret: str | None = None) -> ImportReport:
    """Apply an export row by row and never mark anyone as left; a dry run does the same work for
    the caller to roll back. With ``full_export`` the report lists who is missing (and, given the
    signing ``secret`` and not a dry run, a token to confirm exactly that list)."""
    if kind not in KINDS:
        raise InvalidInput(f"Unknown kind {kind!r}.")
    if session.get(School, school_id) is None:
        raise NotFound("No such school.")
    parsed = parse_export(data, kind, today)
    # Two imports at once would both create the same new people (a unique
    # violation, a 500): one import at a time per school, each sees the last.
    serialise(session, School, school_id)
    report = ImportReport(kind=kind, dry_run=dry_run, full_export=full_export,
                          mapping=parsed.mapping, ignored_headers=parsed.ignored_headers,
                          notes=list(parsed.notes), file_format=parsed.file_format)
    existing = {p.external_id: p for p in session.scalars(
        select(Person).options(selectinload(Person.guardians)).where(Person.school_id == school_id))}
    guardians_by_email = {g.email.lower(): g for g in session.scalars(
        select(Guardian).where(Guardian.school_id == school_id, Guardian.email.is_not(None))) if g.email}
    seen: dict[str, int] = {}
    for row in parsed.rows:
        if row.external_id and row.external_id in seen:
            report.rows.append(RowResult(row.line, row.external_id, _name(row), "rejected",
                                         _("number %(number)s appears earlier on line %(line)s",
                                           number=row.external_id, line=seen[row.external_id])))
            continue
        if row.gone_on is not None:
            # The export itself says they have gone: not imported, and not proof of presence.
            report.rows.append(RowResult(row.line, row.external_id, _name(row), "gone",
                                         _("left the school on %(date)s according to the file; not imported",
                                           date=row.gone_on.isoformat())))
            continue
        if row.external_id:
            # A rejected row still proves the person is on the export: never list them as leaving.
            seen[row.external_id] = row.line
        if row.error:
            report.rows.append(RowResult(row.line, row.external_id, _name(row), "rejected", row.error))
            continue
        person = existing.get(row.external_id)
        if person is not None and person.kind != kind:
            report.rows.append(RowResult(row.line, row.external_id, _name(row), "rejected",
                                         _("number %(number)s belongs to a staff member",
                                           number=row.external_id)
                                         if person.kind == "staff" else
                                         _("number %(number)s belongs to a student",
                                           number=row.external_id)))
            continue
        if person is not None and person.erased_at is not None:
            report.rows.append(RowResult(row.line, row.external_id, _name(row), "rejected",
                                         _("this person was erased; add them again by hand if needed")))
            continue
        result, person = _apply_row(session, actor, school_id, row, person, kind, guardians_by_email,
                                    parsed.has_guardian_columns, now)
        existing[row.external_id] = person
        report.rows.append(result)
    accepted = [r for r in report.rows if r.status not in ("rejected", "gone")]
    unreadable = sum(1 for row in parsed.rows if row.unreadable)
    if full_export and not accepted:
        report.notes.append(_("No usable rows: nobody can be marked as left."))
    elif full_export and unreadable:
        # An unreadable line may be anyone's: listing people as leaving would invite deleting their faces.
        report.notes.append(_("%(count)s line(s) could not be read: nobody can be marked as left. Correct "
                              "the file and import it again.", count=unreadable))
    elif full_export:
        session.flush()
        report.leavers = find_leavers(session, school_id, kind, seen)
        report.leavers_checked = True
    session.flush()
    record_event(session, actor=actor, school_id=school_id, action="roster.import",
                 object_type="school", object_id=school_id,
                 details={"kind": kind, "format": parsed.file_format, "dry_run": dry_run,
                          "full_export": full_export, "would_leave": len(report.leavers), **report.counts},
                 now=now)
    if report.leavers and not dry_run and secret:
        # Signed after this import is recorded: any later import makes the list stale.
        session.flush()
        report.leave_token = leavers_token(session, secret, school_id, kind, report.leavers)
    return report


def _name(row: ParsedRow) -> str:
    return f"{row.first_name} {row.last_name}".strip()


def _apply_row(session: Session, actor: Actor, school_id: int, row: ParsedRow, person: Person | None,
               kind: str, guardians_by_email: dict[str, Guardian], sync_guardians: bool,
               now: datetime) -> tuple[RowResult, Person]:
    values = {"first_name": row.first_name, "last_name": row.last_name,
              "date_of_birth": row.date_of_birth, "group_name": row.group_name}
    if row.email:
        values["email"] = row.email
    if row.enrolled_on:
        values["enrolled_on"] = row.enrolled_on
    conflicts = _guardian_conflicts(row.guardians, person, guardians_by_email)
    reason = "; ".join([*conflicts, *row.warnings])
    if person is None:
        person = Person(school_id=school_id, kind=kind, external_id=row.external_id, **values)
        session.add(person)
        session.flush()
        if not conflicts:
            _sync_guardians(session, school_id, person, row.guardians, guardians_by_email)
        record_event(session, actor=actor, school_id=school_id, action="person.create",
                     object_type="person", object_id=person.id, subject_ids=[person.id],
                     details={"source": "roster import", "kind": kind,
                              "guardians": len(person.guardians),
                              "guardian_conflicts": len(conflicts)},
                     personal={"name": person.full_name}, now=now)
        status = "conflict" if conflicts else "created"
        return RowResult(row.line, row.external_id, person.full_name, status, reason), person
    changed = [name for name, value in values.items() if getattr(person, name) != value]
    for name in changed:
        setattr(person, name, values[name])
    if person.left_on is not None:
        person.left_on = None
        changed.append("re-enrolled")
    if (sync_guardians and row.guardians and not conflicts
            and _sync_guardians(session, school_id, person, row.guardians, guardians_by_email)):
        changed.append("guardians")
    status = "conflict" if conflicts else "updated"
    if not changed:
        return RowResult(row.line, row.external_id, person.full_name,
                         "conflict" if conflicts else "unchanged", reason), person
    record_event(session, actor=actor, school_id=school_id, action="person.update",
                 object_type="person", object_id=person.id, subject_ids=[person.id],
                 details={"source": "roster import", "changed": changed,
                          "guardian_conflicts": len(conflicts)}, now=now)
    detail = _("changed: %(fields)s", fields=", ".join(_change_label(c) for c in changed))
    return RowResult(row.line, row.external_id, person.full_name, status,
                     f"{detail}; {reason}" if reason else detail), person


def _change_label(name: str) -> str:
    labels = {"first_name": _("first name"), "last_name": _("last name"),
              "date_of_birth": _("date of birth"), "group_name": _("class"), "email": _("e-mail address"),
              "enrolled_on": _("enrolment date"), "re-enrolled": _("re-enrolled"),
              "guardians": _("guardians")}
    return labels.get(name, name)


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _guardian_conflicts(wanted: list[GuardianIn], person: Person | None,
                        by_email: dict[str, Guardian]) -> list[str]:
    """Reasons why a row's guardians cannot be linked: their e-mail is another named guardian's.

    Linking would put this child in another family's account (their link would
    show and decide this child's consent), so a person must look first.
    """
    linked = {g.id for g in person.guardians} if person is not None else set()
    reasons = []
    for entry in wanted:
        existing = by_email.get(entry.email) if entry.email else None
        named = entry.name != entry.email  # without a name column the name is the address
        if existing is None or existing.id in linked or not named or _same_name(existing.name, entry.name):
            continue
        children = ", ".join(sorted(c.full_name for c in existing.children)) or "—"
        reasons.append(_(
            "guardian e-mail %(email)s already belongs to guardian %(existing)s (#%(id)s, guardian of "
            "%(children)s), not to %(name)s: no guardian was linked. Check whether this is the same "
            "person, correct the export or the guardian, and import again",
            email=entry.email, existing=existing.name, id=existing.id, children=children,
            name=entry.name))
    return reasons


def _sync_guardians(session: Session, school_id: int, person: Person, wanted: list[GuardianIn],
                    by_email: dict[str, Guardian]) -> bool:
    """Make the person's guardians the ones in the export; True when links changed."""
    chosen: list[tuple[Guardian, str | None]] = []
    for entry in wanted:
        guardian = by_email.get(entry.email) if entry.email else None
        if guardian is None:
            guardian = next((g for g in person.guardians if g.name.lower() == entry.name.lower()), None)
        if guardian is None:
            guardian = Guardian(school_id=school_id, name=entry.name, email=entry.email)
            session.add(guardian)
            session.flush()
            if entry.email:
                by_email[entry.email] = guardian
        elif entry.email and not guardian.email:
            guardian.email = entry.email
            by_email[entry.email] = guardian
        chosen.append((guardian, entry.relation))
    before = {g.id for g in person.guardians}
    after = {g.id for g, _relation in chosen}
    if before == after:
        return False
    person.guardians = [g for g, _relation in dict((g.id, (g, r)) for g, r in chosen).values()]
    session.flush()
    for guardian, relation in chosen:
        if relation:
            session.execute(person_guardian.update().where(
                person_guardian.c.person_id == person.id, person_guardian.c.guardian_id == guardian.id,
            ).values(relation=relation[:40]))
    return True
