"""Reading roster exports: encodings, separators, Dutch/English headers, dates.

Pure parsing, no database: every row becomes a ``ParsedRow`` with either
values or the reason it cannot be used, so one bad row never costs the others.
Each physical line is read on its own, so an unterminated quote or an
over-long field costs that line only (a roster has no multi-line values).
Reasons are translated (``gettext``): they are shown to the school as they are.

Dates: ISO (2012-04-03) and yyyymmdd are always clear; dashes and dots are read
day first, as Dutch exports write them. A slashed date such as 03/04/2012 can
be Dutch (3 April) or American (4 March): it is accepted only when the file
itself shows the order, i.e. some value in that column has a number over 12 in
the day or the month position. Birth dates in the future or before 1900 are
typing errors and rejected.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from datetime import date

from email_validator import EmailNotValidError
from flask_babel import gettext as _

from consentflow.people.rows import (
    MAX_ROWS,
    GuardianIn,
    ParsedFile,
    ParsedRow,
    RosterFileError,
    birth_date_error,
    email_or_warning,
    field_label,
    identity_error,
    missing_birth_date_error,
    valid_email,
)

# Normalised header (lowercase letters and digits only) -> field.
_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("leerlingnummer", "leerlingnr", "llnr", "llnummer", "stamnummer", "stamnr",
                    "studentnumber", "studentnr", "studentno", "studentid", "pupilnumber",
                    "personeelsnummer", "personeelsnr", "medewerkernummer", "medewerkernr",
                    "staffnumber", "staffid", "employeenumber", "employeeid", "nummer", "number", "id"),
    "first_name": ("roepnaam", "voornaam", "voornamen", "firstname", "givenname", "forename",
                   "callname", "preferredname"),
    "prefix": ("tussenvoegsel", "tussenvoegsels", "tussenv", "voorvoegsel", "voorvoegsels", "voorv",
               "tv", "prefix", "infix"),
    "last_name": ("achternaam", "familienaam", "geslachtsnaam", "lastname", "surname", "familyname"),
    "date_of_birth": ("geboortedatum", "gebdatum", "geboortedat", "gebdat", "dateofbirth", "dob",
                      "birthdate", "birthday"),
    "group_name": ("klas", "groep", "stamgroep", "basisgroep", "stamklas", "klasgroep", "mentorgroep",
                   "class", "group", "homeroom", "tutorgroup", "form"),
    "email": ("email", "emailadres", "emailaddress", "emailleerling", "emailadresleerling",
              "leerlingemail", "studentemail", "emailstudent", "emailmedewerker", "emailpersoneel",
              "staffemail", "schoolemail"),
    "enrolled_on": ("inschrijfdatum", "datuminschrijving", "startdatum", "begindatum", "enrolledon",
                    "enrolmentdate", "enrollmentdate", "startdate", "datumingang"),
}
# "first name" alone is the first name; "roepnaam" wins over "voornamen" when both exist.
_PREFERENCE = {"first_name": ("roepnaam", "callname", "preferredname")}
_ROLE = (r"(?:ouderverzorger|ouders?|verzorgers?|voogd|wettelijkvertegenwoordiger"
         r"|guardian|parent|contactpersoon|contact)")
_MAIL = r"(?:e?mail(?:adres)?|emailaddress)"
_NAME = r"(?:naam|volledigenaam|name|fullname)"
_REL = r"(?:relatie|relation|relationship|soort|type)"
_GUARDIAN_PATTERNS = (
    ("email", re.compile(rf"^{_MAIL}{_ROLE}(\d*)$")),
    ("email", re.compile(rf"^{_ROLE}(\d*){_MAIL}$")),
    ("relation", re.compile(rf"^{_REL}{_ROLE}(\d*)$")),
    ("relation", re.compile(rf"^{_ROLE}(\d*){_REL}$")),
    ("name", re.compile(rf"^{_NAME}{_ROLE}(\d*)$")),
    ("name", re.compile(rf"^{_ROLE}(\d*){_NAME}?$")),
)
_DATE_PATTERNS = (
    (re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"), ("y", "m", "d")),
    (re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$"), ("d", "m", "y")),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), ("y", "m", "d")),
)
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DELIMITERS = (";", ",", "\t", "|")
_LINE_BREAK = re.compile(r"\r\n|\n|\r")


def normalise_header(header: str) -> str:
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", text)


def decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM); Windows-1252 for older Excel exports."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "windows-1252"


def sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class AmbiguousDate(ValueError):
    """A slashed date whose day and month could be either way round."""


def _date_text(raw: str) -> str:
    return raw.strip().split(" ")[0].split("T")[0]


def slashed_order(raws: Iterable[str]) -> str | None:
    """"dmy" or "mdy" when some slashed value of the column shows the order; None otherwise."""
    day_first = month_first = False
    for raw in raws:
        match = _SLASHED.match(_date_text(raw))
        if match:
            first, second = int(match.group(1)), int(match.group(2))
            day_first = day_first or first > 12
            month_first = month_first or second > 12
    if day_first != month_first:
        return "dmy" if day_first else "mdy"
    return None  # nothing decides, or the file contradicts itself


def parse_date(raw: str, slashed: str | None = "dmy") -> date:
    """dd-mm-yyyy, yyyy-mm-dd (also with / or .), yyyymmdd; a time part is ignored.

    ``slashed`` is the order of dd/mm/yyyy-like dates ("dmy", "mdy", or None
    when unknown: then an ambiguous one raises AmbiguousDate).
    """
    text = _date_text(raw)
    match = _SLASHED.match(text)
    if match:
        first, second, year = (int(g) for g in match.groups())
        if first > 12 or second > 12 or first == second:
            order = "dmy" if first > 12 or (first == second) else "mdy"
        elif slashed is None:
            raise AmbiguousDate(raw)
        else:
            order = slashed
        day, month = (first, second) if order == "dmy" else (second, first)
        return date(year, month, day)  # ValueError for 31/02
    for pattern, fields in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            parts = dict(zip(fields, (int(g) for g in match.groups()), strict=True))
            return date(parts["y"], parts["m"], parts["d"])  # ValueError for 31-02
    raise ValueError(raw)


def map_headers(headers: list[str]) -> tuple[dict[str, int], dict[int, tuple[str, str]], list[str]]:
    """Field -> column index, guardian column index -> (slot, attribute), unused headers."""
    fields: dict[str, int] = {}
    guardians: dict[int, tuple[str, str]] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        key = normalise_header(header)
        matched = False
        for name, aliases in _ALIASES.items():
            if key in aliases:
                preferred = key in _PREFERENCE.get(name, ())
                if name not in fields or preferred:
                    fields[name] = index
                matched = True
                break
        if not matched:
            for attribute, pattern in _GUARDIAN_PATTERNS:
                found = pattern.match(key)
                if found:
                    guardians[index] = (found.group(1) or "1", attribute)
                    matched = True
                    break
        if not matched and header.strip():
            ignored.append(header.strip())
    return fields, guardians, ignored


def _split(line: str, delimiter: str) -> list[str]:
    """One physical line as CSV fields; csv.Error for an unterminated quote or an over-long field."""
    return next(csv.reader([line], delimiter=delimiter, strict=True), [])


_DELIMITER_NAMES = {";": "';'", ",": "','", "\t": "tab", "|": "'|'"}


def _unreadable_reason(err: csv.Error) -> str:
    text = str(err)
    if "field limit" in text:
        return _("a value on this line is longer than %(limit)s characters; the line was not read",
                 limit=csv.field_size_limit())
    if "end of data" in text or "expected after" in text:
        return _("this line has a quotation mark that is not closed; the line was not read")
    return _("this line cannot be read (%(error)s); the line was not read", error=text)


def _other_delimiter(line: str, delimiter: str, columns: int) -> str | None:
    """The separator a short line was written with, when another one splits it into the columns."""
    for other in _DELIMITERS:
        if other == delimiter or other not in line:
            continue
        try:
            if len(_split(line, other)) >= min(columns, 3):
                return other
        except csv.Error:
            continue
    return None


def parse_roster(data: bytes, kind: str, today: date | None = None) -> ParsedFile:
    """Parse an export; header problems raise RosterFileError, row problems stay on the row."""
    text, encoding = decode(data)
    lines = _LINE_BREAK.split(text)
    if not lines or not lines[0].strip():
        raise RosterFileError("The file is empty.")
    delimiter = sniff_delimiter(lines[0])
    try:
        headers = _split(lines[0], delimiter)
    except csv.Error as err:
        raise RosterFileError("The header line cannot be read: %(error)s.", error=str(err)) from None
    fields, guardian_cols, ignored = map_headers(headers)
    required = ["external_id", "first_name", "last_name"] + (["date_of_birth"] if kind == "student" else [])
    missing = [f for f in required if f not in fields]
    if missing:
        raise RosterFileError(
            "Columns not found: %(missing)s. Headers in the file: %(headers)s.",
            missing=", ".join(field_label(name) for name in missing),
            headers=", ".join(h for h in headers if h.strip()))
    mapping = {name: headers[i] for name, i in fields.items()}
    mapping.update({f"guardian{slot}.{attr}": headers[i] for i, (slot, attr) in guardian_cols.items()})
    read: list[tuple[int, list[str]] | ParsedRow] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if len(read) >= MAX_ROWS:
            raise RosterFileError("The file has more than %(limit)s rows; split it.", limit=MAX_ROWS)
        try:
            values = _split(line, delimiter)
        except csv.Error as err:
            read.append(ParsedRow(line=number, error=_unreadable_reason(err), unreadable=True))
            continue
        if not any(v.strip() for v in values):
            continue
        # The file's separator does not occur at all: the line was written with another one.
        other = _other_delimiter(line, delimiter, len(headers)) if len(values) == 1 < len(headers) else None
        if other is not None:
            row = ParsedRow(line=number, external_id=_get(_split(line, other), fields, "external_id"))
            row.error = _("this line is separated by %(found)s, the rest of the file by %(expected)s; "
                          "save the file again with one separator", found=_DELIMITER_NAMES[other],
                          expected=_DELIMITER_NAMES[delimiter])
            read.append(row)
            continue
        read.append((number, values))
    table = [values for item in read if isinstance(item, tuple) for values in (item[1],)]
    # The order of slashed dates is a property of the file (its export settings), per column.
    orders = {name: slashed_order(_get(values, fields, name) for values in table)
              for name in ("date_of_birth", "enrolled_on")}
    rows = [item if isinstance(item, ParsedRow)
            else _parse_row(item[0], item[1], fields, guardian_cols, kind, orders, today)
            for item in read]
    return ParsedFile(rows, mapping, delimiter, encoding, bool(guardian_cols), ignored)


def _get(values: list[str], fields: dict[str, int], name: str) -> str:
    index = fields.get(name)
    if index is None or index >= len(values):
        return ""
    return " ".join(values[index].split())


def _birth_date(raw: str, order: str | None, today: date | None) -> tuple[date | None, str | None]:
    """The date of birth, or the reason it cannot be one."""
    try:
        born = parse_date(raw, order)
    except AmbiguousDate:
        return None, _("date of birth '%(value)s' can be read as day-month or as month-day, and no other "
                       "row shows which; write it as yyyy-mm-dd or dd-mm-yyyy", value=raw)
    except ValueError:
        return None, _("date of birth '%(value)s' is not a date (use dd-mm-yyyy or yyyy-mm-dd)", value=raw)
    error = birth_date_error(born, raw, today)
    return (None, error) if error else (born, None)


def _parse_row(line: int, values: list[str], fields: dict[str, int],
               guardian_cols: dict[int, tuple[str, str]], kind: str,
               orders: dict[str, str | None], today: date | None) -> ParsedRow:
    row = ParsedRow(line=line)
    row.external_id = _get(values, fields, "external_id")
    row.first_name = _get(values, fields, "first_name")
    prefix = _get(values, fields, "prefix")
    last = _get(values, fields, "last_name")
    row.last_name = f"{prefix} {last}".strip() if last else ""  # a prefix alone is no name
    group = _get(values, fields, "group_name")
    row.group_name = group or None
    row.error = identity_error(row, kind)
    if row.error:
        return row
    raw_dob = _get(values, fields, "date_of_birth")
    if raw_dob:
        row.date_of_birth, row.error = _birth_date(raw_dob, orders.get("date_of_birth"), today)
        if row.error:
            return row
    else:
        row.error = missing_birth_date_error(kind)
        if row.error:
            return row
    raw_enrolled = _get(values, fields, "enrolled_on")
    if raw_enrolled:
        try:
            row.enrolled_on = parse_date(raw_enrolled, orders.get("enrolled_on"))
        except ValueError:
            row.warnings.append(_("enrolment date '%(value)s' ignored: not a clear date", value=raw_enrolled))
    raw_email = _get(values, fields, "email")
    if raw_email:
        row.email = email_or_warning(raw_email, row)
    row.guardians = _guardians(values, guardian_cols, row)
    return row


def _guardians(values: list[str], cols: dict[int, tuple[str, str]], row: ParsedRow) -> list[GuardianIn]:
    slots: dict[str, dict[str, str]] = {}
    for index, (slot, attribute) in cols.items():
        value = " ".join(values[index].split()) if index < len(values) else ""
        if value:
            slots.setdefault(slot, {})[attribute] = value
    found: list[GuardianIn] = []
    for slot in sorted(slots):
        entry = slots[slot]
        email = None
        if entry.get("email"):
            try:
                email = valid_email(entry["email"])
            except EmailNotValidError:
                row.warnings.append(_("guardian e-mail '%(value)s' ignored: not valid",
                                      value=entry["email"]))
        name = entry.get("name") or (email or "")
        if not name:
            continue
        found.append(GuardianIn(name=name[:200], email=email, relation=(entry.get("relation") or None)))
    return found
