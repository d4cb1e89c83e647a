"""Roster import through the admin page and the CLI."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from consentflow.models import Person
from tests import factories
from tests.conftest import DATA_DIR

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
MESSY = DATA_DIR / "rosters" / "messy_nl_semicolon_bom.csv"


def _count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Person))


def test_upload_shows_the_per_row_report(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    auth.as_role(db_session, "admin", school=school)
    token = CSRF_RE.search(client.get("/people/import").get_data(as_text=True)).group(1)
    with open(MESSY, "rb") as fh:
        response = client.post("/people/import", data={
            "csrf_token": token, "file": (fh, "export.csv"), "kind": "student", "full_export": "y"},
            content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "created: 4" in html and "rejected: 3" in html
    assert "31-02-2010" in html and "appears earlier on line 3" in html
    assert _count(db_session) == 4


def test_dry_run_changes_nothing(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    auth.as_role(db_session, "admin", school=school)
    token = CSRF_RE.search(client.get("/people/import").get_data(as_text=True)).group(1)
    with open(MESSY, "rb") as fh:
        html = client.post("/people/import", data={
            "csrf_token": token, "file": (fh, "export.csv"), "kind": "student", "dry_run": "y"},
            content_type="multipart/form-data").get_data(as_text=True)
    assert "nothing was changed" in html and "created: 4" in html
    assert _count(db_session) == 0


def test_a_file_without_the_needed_columns_is_explained(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    auth.as_role(db_session, "admin", school=school)
    token = CSRF_RE.search(client.get("/people/import").get_data(as_text=True)).group(1)
    from io import BytesIO

    response = client.post("/people/import", data={
        "csrf_token": token, "file": (BytesIO(b"a;b;c\n1;2;3\n"), "x.csv"), "kind": "student"},
        content_type="multipart/form-data")
    assert response.status_code == 400 and "Columns not found" in response.get_data(as_text=True)


def test_cli_import_and_dry_run(app, runner, db_session) -> None:
    school = factories.school(db_session)
    db_session.commit()
    dry = runner.invoke(args=["people", "import", str(MESSY), "--school", school.slug, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Dry run" in dry.output and "31-02-2010" in dry.output
    assert _count(db_session) == 0
    real = runner.invoke(args=["people", "import", str(MESSY), "--school", school.slug])
    assert real.exit_code == 0, real.output
    assert "created 4" in real.output and "rejected 3" in real.output
    assert _count(db_session) == 4
    again = runner.invoke(args=["people", "import", str(MESSY), "--school", school.slug])
    assert "created 0" in again.output and "unchanged 4" in again.output
    assert _count(db_session) == 4
    missing = runner.invoke(args=["people", "import", str(MESSY), "--school", "no-such-school"])
    assert missing.exit_code == 1
