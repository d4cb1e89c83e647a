"""Reading roster exports: encodings, separators, Dutch/English headers, dates.

Pure parsing, no database: every row becomes a ``ParsedRow`` with either
values or the reason it cannot be used, so one bad row never costs the others.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from email_validator import EmailNotValidError, validate_email

from consentflow.errors import InvalidInput

MAX_ROWS = 100_000

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
_ROLE = r"(?:ouderverzorger|ouders?|verzorgers?|voogd|wettelijkvertegenwoordiger|guardian|parent|contactpersoon|contact)"
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
_LIMITS = {"external_id": 64, "first_name": 120, "last_name": 160, "group_name": 40}


def normalise_header(header: str) -> str:
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", text)


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


@dataclass
class ParsedFile:
    rows: list[ParsedRow]
    mapping: dict[str, str]  # field -> original header
    delimiter: str
    encoding: str
    has_guardian_columns: bool
    ignored_headers: list[str]


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


def parse_date(raw: str) -> date:
    """dd-mm-yyyy, yyyy-mm-dd (also with / or .), yyyymmdd; a time part is ignored."""
    text = raw.strip().split(" ")[0].split("T")[0]
    for pattern, order in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            parts = dict(zip(order, (int(g) for g in match.groups()), strict=True))
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


def _valid_email(raw: str) -> str:
    return validate_email(raw, check_deliverability=False).normalized.lower()


def parse_roster(data: bytes, kind: str) -> ParsedFile:
    """Parse an export; header problems raise InvalidInput, row problems stay on the row."""
    text, encoding = decode(data)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InvalidInput("The file is empty.")
    delimiter = sniff_delimiter(lines[0])
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    headers = next(reader)
    fields, guardian_cols, ignored = map_headers(headers)
    required = ["external_id", "first_name", "last_name"] + (["date_of_birth"] if kind == "student" else [])
    missing = [f for f in required if f not in fields]
    if missing:
        raise InvalidInput(
            "Columns not found: " + ", ".join(missing) + ". Headers in the file: "
            + ", ".join(h for h in headers if h.strip()) + "."
        )
    mapping = {name: headers[i] for name, i in fields.items()}
    mapping.update({f"guardian{slot}.{attr}": headers[i] for i, (slot, attr) in guardian_cols.items()})
    rows: list[ParsedRow] = []
    for values in reader:
        if len(rows) >= MAX_ROWS:
            raise InvalidInput(f"The file has more than {MAX_ROWS} rows; split it.")
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        rows.append(_parse_row(line, values, fields, guardian_cols, kind))
    return ParsedFile(rows, mapping, delimiter, encoding, bool(guardian_cols), ignored)


def _get(values: list[str], fields: dict[str, int], name: str) -> str:
    index = fields.get(name)
    if index is None or index >= len(values):
        return ""
    return " ".join(values[index].split())


def _parse_row(line: int, values: list[str], fields: dict[str, int],
               guardian_cols: dict[int, tuple[str, str]], kind: str) -> ParsedRow:
    row = ParsedRow(line=line)
    row.external_id = _get(values, fields, "external_id")
    row.first_name = _get(values, fields, "first_name")
    prefix = _get(values, fields, "prefix")
    row.last_name = f"{prefix} {_get(values, fields, 'last_name')}".strip()
    group = _get(values, fields, "group_name")
    row.group_name = group or None
    number_label = "student number" if kind == "student" else "staff number"
    if not row.external_id:
        row.error = f"no {number_label}"
        return row
    if not row.first_name or not _get(values, fields, "last_name"):
        row.error = "first name or last name is empty"
        return row
    for name, limit in _LIMITS.items():
        if len(getattr(row, name) or "") > limit:
            row.error = f"{name.replace('_', ' ')} is longer than {limit} characters"
            return row
    raw_dob = _get(values, fields, "date_of_birth")
    if raw_dob:
        try:
            row.date_of_birth = parse_date(raw_dob)
        except ValueError:
            row.error = f"date of birth '{raw_dob}' is not a date (use dd-mm-yyyy or yyyy-mm-dd)"
            return row
    elif kind == "student":
        row.error = "no date of birth (needed to know who signs the consent)"
        return row
    raw_enrolled = _get(values, fields, "enrolled_on")
    if raw_enrolled:
        try:
            row.enrolled_on = parse_date(raw_enrolled)
        except ValueError:
            row.warnings.append(f"enrolment date '{raw_enrolled}' ignored: not a date")
    raw_email = _get(values, fields, "email")
    if raw_email:
        try:
            row.email = _valid_email(raw_email)
        except EmailNotValidError:
            row.warnings.append(f"e-mail address '{raw_email}' ignored: not valid")
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
                email = _valid_email(entry["email"])
            except EmailNotValidError:
                row.warnings.append(f"guardian e-mail '{entry['email']}' ignored: not valid")
        name = entry.get("name") or (email or "")
        if not name:
            continue
        found.append(GuardianIn(name=name[:200], email=email, relation=(entry.get("relation") or None)))
    return found
