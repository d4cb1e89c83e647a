"""CSV exports never hand a spreadsheet a formula; download names never break a header.

One helper for each rule (consentflow/exports.py); the guard tests below fail
when a CSV writer or a Content-Disposition header is written without it.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest

from consentflow.exports import attachment, csv_cell, csv_writer, download_name
from tests import factories
from tests.conftest import Auth
from tests.web.test_consent_public import answer, setup_round, url_of

PACKAGE = Path(__file__).resolve().parents[2] / "consentflow"
HELPER = PACKAGE / "exports.py"


@pytest.mark.parametrize("raw", ["=1+1", "+31 6 1234", "-2", "@SUM(A1)", "\tx", "\rx",
                                 '=HYPERLINK("http://evil","x")'])
def test_formula_cells_are_quoted(raw: str) -> None:
    out = io.StringIO()
    csv_writer(out).writerow([raw, 3])
    [row] = list(csv.reader(io.StringIO(out.getvalue()), delimiter=";"))
    assert row == ["'" + raw, "3"]


@pytest.mark.parametrize("raw", ["2A", "Jan de Vries", "a=b", "", "'quoted"])
def test_ordinary_cells_are_kept(raw: str) -> None:
    assert csv_cell(raw) == raw


@pytest.mark.parametrize("raw", ['a"; filename=evil.exe', "x\r\nSet-Cookie: a=b", "../../etc/passwd",
                                 "klas 3/B ß é", "..", ""])
def test_download_names_are_plain(raw: str) -> None:
    name = download_name(raw)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name), name
    assert not name.startswith(".")
    assert attachment(raw) == f'attachment; filename="{name}"'


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != HELPER)


def test_every_csv_writer_uses_the_shared_helper() -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in _sources()
                 if re.search(r"csv\.(writer|DictWriter)\(", p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_every_download_name_goes_through_the_shared_helper() -> None:
    seen = 0
    offenders = []
    for path in _sources():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "Content-Disposition" in line:
                seen += 1
                if "attachment(" not in line:
                    offenders.append(f"{path.relative_to(PACKAGE)}:{number}")
            if "download_name=" in line:
                seen += 1
                if "download_name(" not in line and "download_name(" not in _next(path, number):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{number}")
    assert seen >= 6 and offenders == []


def _next(path: Path, number: int) -> str:
    return path.read_text(encoding="utf-8").splitlines()[number]


def test_coverage_export_escapes_class_names_and_sanitises_the_file_name(app, client, db_session) -> None:
    school, child, link = setup_round(db_session, app)
    child.group_name = "=1+1"
    other = factories.person(db_session, school=school, dob=date(2013, 1, 1), group="@cmd", first="Nora",
                             last="-Smit")
    factories.guardian(db_session, school=school, children=[other], email="nora.parent@example.org")
    db_session.commit()
    answer(client, url_of(app, link), {"website.photo": "yes", "social_media.photo": "no",
                                       "face_matching": "no"})
    viewer = app.test_client()
    Auth(viewer).as_role(db_session, "admin", school=school)

    counts = viewer.get("/coverage/export.csv?kind=counts").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(counts.lstrip("\ufeff")), delimiter=";"))
    assert ["'=1+1", "School website — Photos", "1", "0", "0", "1"] in rows
    assert ["'@cmd", "School website — Photos", "0", "0", "1", "1"] in rows
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    remind = viewer.get("/coverage/export.csv?kind=remind").get_data(as_text=True)
    remind_rows = list(csv.reader(io.StringIO(remind.lstrip("\ufeff")), delimiter=";"))
    assert [other.external_id, "Nora", "'-Smit", "'@cmd"] == remind_rows[1][:4]

    response = viewer.get("/coverage/export.csv", query_string={
        "kind": "counts", "group": '=1+1"; filename=evil.exe\r\nSet-Cookie: a=b'})
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    name = re.fullmatch(r'attachment; filename="([A-Za-z0-9._-]+)"', disposition).group(1)
    assert name.startswith("coverage-counts-") and name.endswith(".csv")
    assert "Set-Cookie" not in response.headers
