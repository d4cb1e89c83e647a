"""The rows every roster format is read into, and the rules a row must meet, whatever the format.

``import_csv`` and ``import_edexml`` only read their format; whether a row
can be a person (number, names, lengths, date of birth, e-mail) is decided
here, once, so a CSV and an EDEXML export of the same school get the same
answers. Reasons are translated (``gettext``): they are shown as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from consentflow.errors import InvalidInput

MAX_ROWS = 100_000
EARLIEST_BIRTH_YEAR = 1900
_LIMITS = {"external_id": 64, "first_name": 120, "last_name": 160, "group_name": 40}


class RosterFileError(InvalidInput):
    """The file as a whole cannot be imported.

    ``message`` is English (CLI, API, logs); ``msgid`` and ``params`` let the
    page show it in the user's language, since a formatted message can no
    longer be looked up in the catalogue.
    """

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params

    def translated(self) -> str:
        return _(self.msgid, **self.params)


@dataclass(frozen=True)
class GuardianIn:
    name: str
    email: str | None
    relation: str | None


@dataclass
class ParsedRow:
    line: int
    external_id: str = ""
    first_name: str = ""
    last_name: str = ""
    date_of_birth: date | None = None
    group_name: str | None = None
    email: str | None = None
    enrolled_on: date | None = None
    guardians: list[GuardianIn] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    unreadable: bool = False  # the line itself could not be read: its number is unknown
    # The export itself says this person has gone (EDEXML uitstroomdatum): no proof of presence.
    gone_on: date | None = None


@dataclass
class ParsedFile:
    rows: list[ParsedRow]
    mapping: dict[str, str]  # field -> original header
    delimiter: str
    encoding: str
    has_guardian_columns: bool
    ignored_headers: list[str]
    file_format: str = "csv"  # csv | edexml
    notes: list[str] = field(default_factory=list)  # about the file as a whole, already translated


def valid_email(raw: str) -> str:
    return validate_email(raw, check_deliverability=False).normalized.lower()


def field_label(name: str) -> str:
    """What a field of the roster is called on the page (also for guardian columns)."""
    labels = {"external_id": _("number"), "first_name": _("first name"), "last_name": _("last name"),
              "group_name": _("class"), "prefix": _("prefix"), "date_of_birth": _("date of birth"),
              "email": _("e-mail address"), "enrolled_on": _("enrolment date")}
    if name.startswith("guardian") and "." in name:
        slot, attribute = name[len("guardian"):].split(".", 1)
        kinds = {"email": _("e-mail address"), "name": _("name"), "relation": _("relation")}
        return _("guardian %(slot)s: %(field)s", slot=slot, field=kinds.get(attribute, attribute))
    return labels.get(name, name)


def identity_error(row: ParsedRow, kind: str) -> str | None:
    """Why a row cannot be a person (number, names, lengths), for every file format."""
    if not row.external_id:
        return _("no student number") if kind == "student" else _("no staff number")
    if not row.first_name or not row.last_name:
        return _("first name or last name is empty")
    for name, limit in _LIMITS.items():
        if len(getattr(row, name) or "") > limit:
            return _("%(field)s is longer than %(limit)s characters", field=field_label(name), limit=limit)
    return None


def birth_date_error(born: date, raw: str, today: date | None) -> str | None:
    """A date of birth in the future or before 1900 is a typing error."""
    if today is not None and born > today:
        return _("date of birth %(value)s lies in the future", value=raw)
    if born.year < EARLIEST_BIRTH_YEAR:
        return _("date of birth %(value)s lies before %(year)s", value=raw, year=EARLIEST_BIRTH_YEAR)
    return None


def missing_birth_date_error(kind: str) -> str | None:
    """A student needs a date of birth: it decides who signs the consent."""
    return _("no date of birth (needed to know who signs the consent)") if kind == "student" else None


def email_or_warning(raw: str, row: ParsedRow) -> str | None:
    """A valid address, or None with a warning on the row (a bad address never costs the row)."""
    try:
        return valid_email(raw)
    except EmailNotValidError:
        row.warnings.append(_("e-mail address '%(value)s' ignored: not valid", value=raw))
        return None
