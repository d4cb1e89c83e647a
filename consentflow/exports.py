"""Safe downloads: CSV cells a spreadsheet will not execute, file names a header cannot carry.

Every CSV the app writes goes through ``csv_writer`` and every download name
through ``attachment`` (or ``download_name`` where Flask builds the header),
so that neither rule is written twice.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from typing import Any, Protocol

# Spreadsheets read a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 120


def csv_cell(value: Any) -> Any:
    """The value as a spreadsheet shows it: text that would start a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Writer(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


class SafeCsvWriter:
    """``csv.writer`` whose every cell passes ``csv_cell``."""

    def __init__(self, out: Any, delimiter: str = ";") -> None:
        self._writer: _Writer = csv.writer(out, delimiter=delimiter)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: Any, delimiter: str = ";") -> SafeCsvWriter:
    """The only CSV writer of the app (semicolons: what Dutch Excel opens without asking)."""
    return SafeCsvWriter(out, delimiter=delimiter)


def download_name(name: str, fallback: str = "download") -> str:
    """A file name safe in any header and on any disk: ASCII letters, digits, '.', '_', '-'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    safe = _UNSAFE.sub("_", ascii_name).strip("._")[:_MAX_NAME].strip("._")
    return safe or fallback


def attachment(name: str, fallback: str = "download") -> str:
    """The Content-Disposition value of a download named (after sanitising) ``name``."""
    return f'attachment; filename="{download_name(name, fallback)}"'
