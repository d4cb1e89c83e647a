"""What "speaks Dutch" means, as a check on rendered text (used by test_dutch_everywhere).

Two findings count: a raw code (a stored value such as ``social_media`` or
``blur_no_consent`` shown instead of its label), and English left over (a
text that is a msgid of the app's catalogue which the Dutch catalogue leaves
empty, or a msgid shown verbatim although Dutch has its own words for it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from consentflow.labels import LABELS
from consentflow.models.consent import CHANNELS, DEFAULT_PURPOSES, FACE_MATCHING
from consentflow.models.user import ROLES
from consentflow.publish.state import PUBLICATION_STATES

PACKAGE = Path(__file__).resolve().parents[2] / "consentflow"
CATALOGUE = PACKAGE / "translations" / "nl" / "LC_MESSAGES" / "messages.po"

# Codes that are English words or identical in Dutch are not evidence of a raw code.
SAME_IN_DUTCH = {"website", "student", "admin", "pr", "privacy", "all", "off", "self", "photo",
                 "video", "nl", "en", "show", "active", "expired", "conflict", "press"}


def raw_codes() -> set[str]:
    """Every stored code that has a label: enums, constants and the label tables' keys."""
    codes: set[str] = {*CHANNELS, *DEFAULT_PURPOSES, FACE_MATCHING, *ROLES, *PUBLICATION_STATES}
    for kind, table in LABELS.items():
        if kind == "object_type":  # "school", "album", "person": words; "consent_record" is a code
            codes.update(k for k in table if "_" in k)
        elif kind != "decision_basis":  # the rule's reasons ("consent") are words, not shown alone
            codes.update(k for k in table if isinstance(k, str))
    codes.update({"blur_no_consent", "blur_unknown", "not_a_face", "in_person", "paper", "digital",
                  "guardian", "consented", "created", "updated", "unchanged", "left", "teacher",
                  "staff", "needs_review", "pending", "approved", "published", "withdrawn"})
    return {c for c in codes if c not in SAME_IN_DUTCH}


def _code_pattern(codes: set[str]) -> re.Pattern[str]:
    # Whole tokens only, case-sensitive: "left" the code, not "Linkerkant"; "paper" not "paperclip".
    alternatives = "|".join(sorted((re.escape(c) for c in codes), key=len, reverse=True))
    return re.compile(rf"(?<![\w.@/-])(?:{alternatives})(?![\w@/-])")


# An ISO time with microseconds or a UTC offset: a datetime printed as stored, not as the school sees it.
RAW_TIME = re.compile(r"\d{2}:\d{2}:\d{2}\.\d{3,6}|\d{2}:\d{2}(?::\d{2})?\+00:00|\bUTC\b")


@dataclass
class Catalogue:
    untranslated: set[str] = field(default_factory=set)  # msgids with no Dutch
    has_dutch: set[str] = field(default_factory=set)  # msgids whose Dutch differs


def _msgids() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
                "lazy_ngettext": (1, 2)}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(PACKAGE), method_map=method_map, keywords=keywords):
        found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def load_catalogue(path: Path = CATALOGUE) -> Catalogue:
    """The app's msgids split by what Dutch says about them."""
    with path.open("rb") as handle:
        po = read_po(handle)
    result = Catalogue()
    for msgid in _msgids():
        entry = po.get(msgid)
        string = entry.string if entry is not None else ""
        dutch = string[0] if isinstance(string, (list, tuple)) else string
        if "%(" in msgid or len(msgid) < 3:
            continue  # formatted messages never render verbatim
        if not dutch:
            result.untranslated.add(msgid)
        elif dutch != msgid:
            result.has_dutch.add(msgid)
    return result


class _Text(HTMLParser):
    """Visible text nodes and the attributes people read (title, placeholder, alt, aria-label)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "placeholder", "alt", "aria-label") and value:
                self.chunks.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.chunks.append(data)


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return [" ".join(c.split()) for c in parser.chunks]


@dataclass
class DutchCheck:
    catalogue: Catalogue
    codes: set[str]

    def __post_init__(self) -> None:
        self._pattern = _code_pattern(self.codes)
        self._long = sorted(m for m in self.catalogue.untranslated | self.catalogue.has_dutch
                            if len(m) >= 30)

    def problems(self, chunks: list[str]) -> list[str]:
        found = [f"stored time shown raw in {c[:120]!r}" for c in chunks if RAW_TIME.search(c)]
        found += [f"English {c[:120]!r}" for c in chunks if "(unknown)" in c]
        english = self.catalogue.untranslated | self.catalogue.has_dutch
        for chunk in chunks:
            text = chunk.strip()
            for match in self._pattern.finditer(text):
                found.append(f"raw code {match.group(0)!r} in {text[:120]!r}")
            if text in english:
                found.append(f"English {text[:120]!r}")
                continue
            for msgid in self._long:
                if msgid in text:
                    found.append(f"English {msgid[:120]!r} in {text[:120]!r}")
        return found
