"""Roster import in a real browser: a full export shows who would leave, and only the
confirmation of exactly that list marks them as left (and deletes their reference faces)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from consentflow.models import Person, ReferenceFace, School
from tests.e2e.conftest import LiveServer, login, make_user, screenshot
from tests.jobs.photo_helpers import enrol

HEADER = "Leerlingnummer;Roepnaam;Achternaam;Geboortedatum;Klas\n"


def _seed(live: LiveServer) -> tuple[int, str]:
    """A school with three students, one of them with a real reference face."""
    from consentflow.extensions import db

    with live.app.app_context():
        n = db.session.query(School).count() + 1
        school = School(name="Basisschool De Linde", slug=f"roster-{n}", biometric_mode="all")
        db.session.add(school)
        db.session.flush()
        people = [Person(school_id=school.id, kind="student", external_id=f"{n}0{i}", first_name=first,
                         last_name="Jansen", date_of_birth=date(2015, 3, i), group_name="5A")
                  for i, first in enumerate(("Anna", "Bram", "Cas"), start=1)]
        db.session.add_all(people)
        db.session.flush()
        enrol(live.app, db.session, school, people[2], "obama.jpg")
        db.session.commit()
        return school.id, str(n)


def _people(live: LiveServer, school_id: int) -> dict[str, Any]:
    from consentflow.extensions import db

    with live.app.app_context():
        rows = db.session.scalars(select(Person).where(Person.school_id == school_id)).all()
        refs = db.session.scalar(select(func.count()).select_from(ReferenceFace)
                                 .join(Person, Person.id == ReferenceFace.person_id)
                                 .where(Person.school_id == school_id))
        return {"left": sorted(p.first_name for p in rows if p.left_on is not None), "refs": refs}


def _upload(page: Any, body: str, full_export: bool) -> None:
    page.goto("/people/import")
    page.set_input_files("input[name=file]", {"name": "export.csv", "mimeType": "text/csv",
                                              "buffer": body.encode()})
    if full_export:
        page.check("input[name=full_export]")
    page.click("form[enctype] button.primary")
    page.wait_for_load_state("networkidle")


def test_a_full_export_is_confirmed_before_anyone_leaves(browser_page: Any, live_server: LiveServer) -> None:
    school_id, n = _seed(live_server)
    page = browser_page
    login(page, make_user(live_server, school_id, "admin"))
    page.goto("/people/import")
    assert not page.is_checked("input[name=full_export]")  # off unless the admin asks for it

    _upload(page, HEADER + f"{n}01;Anna;Jansen;2015-03-01;5A\n", full_export=True)
    leavers = page.locator("#leavers-table tbody tr")
    assert leavers.count() == 2
    assert page.locator(f"#leavers-table tr[data-number='{n}03'] td").nth(3).inner_text() == "1"
    assert "Niemand is al als vertrokken gemarkeerd" in page.inner_text("#leavers")
    screenshot(page, "roster-leavers.png")
    assert _people(live_server, school_id) == {"left": [], "refs": 1}  # shown, nothing marked or deleted

    page.click("#confirm-leavers button")
    page.wait_for_load_state("networkidle")
    assert "2 personen zijn als vertrokken gemarkeerd" in page.inner_text("#left-confirmed")
    assert _people(live_server, school_id) == {"left": ["Bram", "Cas"], "refs": 0}


def test_a_list_made_stale_by_another_import_is_refused(browser_page: Any, live_server: LiveServer) -> None:
    school_id, n = _seed(live_server)
    page = browser_page
    login(page, make_user(live_server, school_id, "admin"))
    _upload(page, HEADER + f"{n}01;Anna;Jansen;2015-03-01;5A\n", full_export=True)
    assert page.locator("#leavers-table tbody tr").count() == 2

    # Meanwhile, in another tab, the corrected export (Bram is still at school) is imported.
    other = page.context.new_page()
    _upload(other, HEADER + f"{n}01;Anna;Jansen;2015-03-01;5A\n{n}02;Bram;Jansen;2015-03-02;5A\n",
            full_export=False)
    other.close()

    page.click("#confirm-leavers button")
    page.wait_for_load_state("networkidle")
    assert "Het leerlingenbestand is veranderd" in page.inner_text("#import-error")
    assert _people(live_server, school_id) == {"left": [], "refs": 1}
