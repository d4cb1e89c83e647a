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


# --- Roster lifecycle: nobody leaves without a confirmation of exactly the list shown -------------

TOKEN_RE = re.compile(r'<input type="hidden" name="token" value="([^"]+)"')
FIVE = ("Leerlingnummer;Roepnaam;Achternaam;Geboortedatum;Klas\n"
        + "".join(f"60000{i};Kind{i};Nieuw;2014-0{i}-01;4B\n" for i in range(1, 6))).encode()


def _csrf(client, path: str = "/people/import") -> str:
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


def _upload(client, data: bytes, name: str = "export.csv", **fields: str):
    from io import BytesIO

    form = {"csrf_token": _csrf(client), "file": (BytesIO(data), name), "kind": "student", **fields}
    return client.post("/people/import", data=form, content_type="multipart/form-data")


def _dutch(client) -> None:
    with client.session_transaction() as browser:
        browser["lang"] = "nl"


def _three_students(db_session, school) -> list[Person]:
    people = [factories.person(db_session, school=school, external_id=f"10000{i}", first=f"Oud{i}",
                               last="Leerling") for i in range(1, 4)]
    db_session.commit()
    return people


def test_the_full_export_option_is_off_by_default(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    auth.as_role(db_session, "admin", school=school)
    html = client.get("/people/import").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="full_export"[^>]*>', html).group(0)
    assert "checked" not in box and 'id="left-confirmed"' not in html
    people = _three_students(db_session, school)
    response = _upload(client, FIVE)  # the five-row file, as submitted with the defaults
    assert response.status_code == 200 and 'id="leavers"' not in response.get_data(as_text=True)
    assert all(p.left_on is None for p in people)


def test_full_export_shows_the_list_and_only_the_confirmation_marks_them(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    auth.as_role(db_session, "admin", school=school)
    _dutch(client)
    people = _three_students(db_session, school)
    html = _upload(client, FIVE, full_export="y").get_data(as_text=True)
    assert "Ontbreekt in deze export" in html and "Referentiegezichten verwijderd" in html
    assert all(f'data-number="10000{i}"' in html for i in range(1, 4))
    assert "Markeer deze 3 personen als vertrokken" in html
    db_session.expire_all()
    assert all(p.left_on is None for p in people)  # shown, not marked
    token = TOKEN_RE.search(html).group(1)
    confirmed = client.post("/people/import/leavers", data={"csrf_token": _csrf(client), "token": token})
    page = confirmed.get_data(as_text=True)
    assert confirmed.status_code == 200 and "3 personen zijn als vertrokken gemarkeerd" in page
    db_session.expire_all()
    assert all(p.left_on is not None for p in people)


def test_a_stale_confirmation_is_refused_in_dutch(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    auth.as_role(db_session, "admin", school=school)
    _dutch(client)
    people = _three_students(db_session, school)
    token = TOKEN_RE.search(_upload(client, FIVE, full_export="y").get_data(as_text=True)).group(1)
    _upload(client, FIVE + b"100001;Oud1;Leerling;2012-05-01;1A\n")  # the roster changed in between
    response = client.post("/people/import/leavers", data={"csrf_token": _csrf(client), "token": token})
    assert response.status_code == 409
    assert "Het leerlingenbestand is veranderd" in response.get_data(as_text=True)
    db_session.expire_all()
    assert all(p.left_on is None for p in people)


def test_confirming_needs_the_admin_of_that_school(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    people = _three_students(db_session, school)
    auth.as_role(db_session, "admin", school=school)
    token = TOKEN_RE.search(_upload(client, FIVE, full_export="y").get_data(as_text=True)).group(1)
    auth.as_role(db_session, "pr", school=school)
    assert client.post("/people/import/leavers",
                       data={"csrf_token": auth.csrf("/"), "token": token}).status_code == 403
    other = factories.school(db_session)
    auth.as_role(db_session, "admin", school=other)
    response = client.post("/people/import/leavers", data={"csrf_token": _csrf(client), "token": token})
    assert response.status_code == 403
    db_session.expire_all()
    assert all(p.left_on is None for p in people)


def test_an_edexml_upload_reports_in_dutch(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    auth.as_role(db_session, "admin", school=school)
    _dutch(client)
    rosters = DATA_DIR / "rosters"
    html = _upload(client, (rosters / "edexml_invalid_rows.xml").read_bytes(), "export.xml").get_data(as_text=True)
    for dutch in ("&#39;2015-02-31&#39; is geen geldige waarde", "sleutel &#39;G9&#39; bestaat niet in dit bestand",
                  "staat al eerder op regel 17", "Gelezen elementen (EDEXML)"):
        assert dutch in html, dutch
    refused = _upload(client, (rosters / "edexml_invalid_school.xml").read_bytes(), "school.xml")
    assert refused.status_code == 400
    assert "voldoet niet aan het EDEXML 2.1-schema" in refused.get_data(as_text=True)
    xxe = _upload(client, (rosters / "edexml_xxe.xml").read_bytes(), "xxe.xml")
    assert xxe.status_code == 400 and "DOCTYPE- of ENTITY-declaratie" in xxe.get_data(as_text=True)
    assert _count(db_session) == 2


def test_cli_lists_leavers_and_confirms_with_the_token(app, runner, db_session) -> None:
    school = factories.school(db_session)
    people = _three_students(db_session, school)
    db_session.commit()
    listed = runner.invoke(args=["people", "import", str(MESSY), "--school", school.slug, "--full-export"])
    assert listed.exit_code == 0, listed.output
    assert "Missing from this export (not marked as left): 3." in listed.output
    token = re.search(r"confirm-left (\S+) --school", listed.output).group(1)
    db_session.expire_all()
    assert all(p.left_on is None for p in people)
    done = runner.invoke(args=["people", "confirm-left", token, "--school", school.slug])
    assert done.exit_code == 0 and "Marked as left: 3." in done.output
    again = runner.invoke(args=["people", "confirm-left", token, "--school", school.slug])
    assert again.exit_code == 1 and "nobody was marked" in again.output


def test_file_errors_are_in_dutch_too(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    auth.as_role(db_session, "admin", school=school)
    _dutch(client)
    response = _upload(client, b"a;b;c\n1;2;3\n")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Kolommen niet gevonden: nummer, roepnaam, achternaam, geboortedatum" in html
    assert "Columns not found" not in html and "external_id" not in html
    page = _upload(client, (DATA_DIR / "rosters" / "edexml_valid.xml").read_bytes(), "export.xml").get_data(
        as_text=True)
    assert "uitgestroomd volgens het bestand" in page and "→ geboortedatum" in page
