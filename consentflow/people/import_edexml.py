"""Reading EDEXML 2.x roster exports into the same rows as a CSV export.

EDEXML is the Dutch standard for exchanging students, groups and teachers
between school administration systems. A file is validated against the
standard's XSD (``edexml_xsd/``, origin in its SOURCES.md) with lxml, and every
``leerling`` (or ``leerkracht``) becomes a ``ParsedRow``, so the import service
applies one set of rules to both formats.

Validation errors are placed where they belong: an error inside one
``leerling`` rejects that row only (as a bad CSV line costs that line only);
an error anywhere else (school, groups, the structure itself) refuses the
file, because group names and keys could not be trusted.

Hostile XML is refused before anything is read from it: no DTD (so no entity
expansion and no external entities), no network, no huge text nodes
(libxml2's default limits), and at most ``MAX_ROWS`` people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from flask_babel import gettext as _
from lxml import etree

from consentflow.people.rows import (
    MAX_ROWS,
    ParsedFile,
    ParsedRow,
    RosterFileError,
    birth_date_error,
    email_or_warning,
    identity_error,
    missing_birth_date_error,
)

XSD_DIR = Path(__file__).with_name("edexml_xsd")
XSD_ENTRY = "EDEXML.structuur.xsd"
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
# Element of each kind of person, and the path of the n-th one in libxml2's error log.
_PERSON = {"student": ("leerlingen", "leerling"), "staff": ("leerkrachten", "leerkracht")}
_PATH = re.compile(r"^/EDEX/(leerlingen/leerling|leerkrachten/leerkracht)(?:\[(\d+)\])?(?:/|$)")
MAX_ERRORS_SHOWN = 5


def looks_like_xml(data: bytes) -> bool:
    """An XML document starts with '<' (after an optional byte-order mark and white space)."""
    for bom in _BOMS:
        if data.startswith(bom):
            data = data[len(bom):]
            break
    head = data[:64].lstrip()
    return head.startswith(b"<") or head.replace(b"\x00", b"").startswith(b"<")


@cache
def edexml_schema() -> etree.XMLSchema:
    """The EDEXML 2.1 schema, read once per process from the package (never from the network)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(XSD_DIR / XSD_ENTRY), parser))


def _safe_parser() -> etree.XMLParser:
    # No DTD is loaded or used for entities, nothing is fetched; huge_tree stays off so
    # libxml2 keeps its limits on depth and text size; comments and PIs are dropped.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=True, collect_ids=False)


@dataclass(frozen=True)
class _SchemaError:
    line: int
    text: str
    person: tuple[str, int] | None  # ("leerling", index from 1) when it lies inside one person


def parse_edexml(data: bytes, kind: str, today: date | None = None) -> ParsedFile:
    """Validate an EDEXML export and turn its students (or teachers) into rows."""
    if _DOCTYPE.search(data[:4096]):
        raise RosterFileError("The XML file contains a DOCTYPE or ENTITY declaration. EDEXML has none, "
                              "and such files are refused for safety; export the file again.")
    try:
        root = etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError as err:
        raise RosterFileError("The file is not readable XML (line %(line)s): %(error)s.",
                              line=err.lineno or "?", error=str(err.msg or err)) from None
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise RosterFileError("The XML file contains a DOCTYPE or ENTITY declaration. EDEXML has none, "
                              "and such files are refused for safety; export the file again.")
    if root.tag != "EDEX":
        raise RosterFileError("This XML file is not an EDEXML export (its root element is <%(tag)s>, "
                              "not <EDEX>).", tag=str(root.tag)[:60])
    container, element = _PERSON[kind]
    people = root.findall(f"{container}/{element}")
    if len(people) > MAX_ROWS:
        raise RosterFileError("The file has more than %(limit)s rows; split it.", limit=MAX_ROWS)
    schema = edexml_schema()
    schema.validate(tree)
    ranges = _line_ranges(root)
    errors = [_locate(entry, ranges) for entry in schema.error_log]
    structural = [e for e in errors if e.person is None]
    if structural:
        shown = "; ".join(_("line %(line)s: %(error)s", line=e.line, error=e.text)
                          for e in structural[:MAX_ERRORS_SHOWN])
        raise RosterFileError("The file does not follow the EDEXML 2.1 schema, so nothing was imported "
                              "(%(count)s error(s)): %(errors)s", count=len(structural), errors=shown)
    by_person: dict[tuple[str, int], list[str]] = {}
    for error in errors:
        assert error.person is not None
        by_person.setdefault(error.person, []).append(error.text)
    groups = {g.get("key", ""): _text(g, "naam") for g in root.findall("groepen/groep")}
    rows = [_row(el, index, kind, groups, by_person.get((element, index)), today)
            for index, el in enumerate(people, start=1)]
    notes = []
    other = "leerkracht" if element == "leerling" else "leerling"
    skipped = sum(1 for person in by_person if person[0] == other)
    if skipped:
        notes.append(_("%(count)s schema error(s) in the other people of this file (not part of this "
                       "import).", count=skipped))
    mapping = {"external_id": f"{element}/@key", "first_name": "roepnaam | voornamen",
               "prefix": "voorvoegsel", "last_name": "achternaam", "email": "emailadres"}
    if kind == "student":
        mapping.update({"date_of_birth": "geboortedatum", "group_name": "groep/@key → groepen/groep/naam",
                        "enrolled_on": "instroomdatum"})
    return ParsedFile(rows, mapping, delimiter="", encoding=tree.docinfo.encoding or "utf-8",
                      has_guardian_columns=False, ignored_headers=[], file_format="edexml", notes=notes)


_Ranges = list[tuple[int, int, tuple[str, int]]]


def _line_ranges(root: etree._Element) -> _Ranges:
    """First and last line of every person element (keys are checked after the fact, by line only)."""
    ranges: _Ranges = []
    for container, element in _PERSON.values():
        for index, el in enumerate(root.findall(f"{container}/{element}"), start=1):
            lines = [node.sourceline or 0 for node in el.iter()]
            ranges.append((min(lines), max(lines), (element, index)))
    return ranges


def _locate(entry: etree._LogEntry, ranges: _Ranges) -> _SchemaError:
    """Which person an error of the schema belongs to: from the node path libxml2 reports or,
    for key references checked at the end of the document, from the line when only one person
    spans it (a file on one line gives no such answer: the error then counts for the file)."""
    match = _PATH.match(entry.path or "")
    person = None
    if match:
        person = (match.group(1).split("/")[1], int(match.group(2) or 1))
    elif not entry.path or entry.path == "/EDEX":
        spanning = [who for first, last, who in ranges if first <= entry.line <= last]
        person = spanning[0] if len(spanning) == 1 else None
    return _SchemaError(entry.line, _dutch_schema_message(entry.message), person)


# libxml2 reports in English; the common cases are said again in the user's language,
# the rest is shown as libxml2 wrote it after a translated lead.
_VALUE = re.compile(r"^Element '([^']+)': '([^']*)' is not a valid value of the (?:atomic|local atomic) type")
_FACET = re.compile(r"^Element '([^']+)': \[facet '[^']+'\] The value '([^']*)'")
_MISSING = re.compile(r"^Element '([^']+)': Missing child element\(s\)\. Expected is \( ?([^)]*?) ?\)")
_UNEXPECTED = re.compile(r"^Element '([^']+)': This element is not expected")
_KEYREF = re.compile(r"^Element '([^']+)': No match found for key-sequence \['([^']*)'\]")
_DUPLICATE = re.compile(r"^Element '([^']+)': Duplicate key-sequence \['([^']*)'\]")
_ATTRIBUTE = re.compile(r"^Element '([^']+)': The attribute '([^']+)' is required but missing")


def _dutch_schema_message(message: str) -> str:
    text = message.strip()
    if match := _VALUE.match(text) or _FACET.match(text):
        return _("element <%(element)s>: '%(value)s' is not a valid value", element=match.group(1),
                 value=match.group(2))
    if match := _MISSING.match(text):
        return _("element <%(element)s>: missing <%(expected)s>", element=match.group(1),
                 expected=match.group(2))
    if match := _UNEXPECTED.match(text):
        return _("element <%(element)s> is not expected here", element=match.group(1))
    if match := _KEYREF.match(text):
        return _("element <%(element)s>: key '%(key)s' does not exist in this file", element=match.group(1),
                 key=match.group(2))
    if match := _DUPLICATE.match(text):
        return _("key '%(key)s' appears more than once in this file", key=match.group(2))
    if match := _ATTRIBUTE.match(text):
        return _("element <%(element)s>: attribute '%(attribute)s' is missing", element=match.group(1),
                 attribute=match.group(2))
    return _("does not follow the schema: %(detail)s", detail=text)


def _text(parent: etree._Element, name: str) -> str:
    child = parent.find(name)
    return " ".join((child.text or "").split()) if child is not None else ""


def _iso_date(raw: str) -> date | None:
    """An xs:date (an optional time zone is ignored: a birth date has none in practice)."""
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def _row(el: etree._Element, index: int, kind: str, groups: dict[str, str],
         schema_errors: list[str] | None, today: date | None) -> ParsedRow:
    row = ParsedRow(line=el.sourceline or index)
    row.external_id = " ".join((el.get("key") or "").split())
    voornamen = _text(el, "voornamen")
    row.first_name = _text(el, "roepnaam") or (voornamen.split()[0] if voornamen else "")
    last = _text(el, "achternaam")
    row.last_name = f"{_text(el, 'voorvoegsel')} {last}".strip() if last else ""
    group = el.find("groep") if kind == "student" else None
    row.group_name = groups.get(group.get("key") or "") or None if group is not None else None
    if schema_errors:
        row.error = "; ".join(schema_errors)
        return row
    row.error = identity_error(row, kind)
    if row.error:
        return row
    if kind == "student":
        raw_dob = _text(el, "geboortedatum")
        born = _iso_date(raw_dob) if raw_dob else None
        if born is None:
            row.error = missing_birth_date_error(kind)
            return row
        row.error = birth_date_error(born, raw_dob, today)
        if row.error:
            return row
        row.date_of_birth = born
        row.enrolled_on = _iso_date(_text(el, "instroomdatum"))
        gone = _iso_date(_text(el, "uitstroomdatum"))
        if gone is not None and today is not None and gone <= today:
            row.gone_on = gone
    raw_email = _text(el, "emailadres")
    if raw_email:
        row.email = email_or_warning(raw_email, row)
    return row
