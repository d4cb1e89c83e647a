"""The public consent page on a phone, and the coverage dashboard, in a real browser."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.consent.effective import has_consent
from consentflow.consent.links import make_token
from consentflow.consent.rounds import LinkContext, open_round
from consentflow.consent.service import record_consent
from consentflow.consent.years import create_form_version, ensure_school_year
from consentflow.models import ConsentLink, ConsentRecord, Guardian, Person, School, utcnow
from tests.e2e.conftest import LiveServer, login, make_user, screenshot

CLASSES = {
    "1A": ["Daan", "Sara", "Milan", "Noor", "Levi", "Julia", "Finn"],
    "2B": ["Lotte", "Sem", "Tess", "Luuk", "Evi", "Bram"],
    "3C": ["Fenna", "Thijs", "Isa", "Ruben", "Lieke"],
}


def _seed(live: LiveServer) -> dict[str, Any]:
    """A school with three classes, a round, and a mix of answers for the dashboard."""
    from consentflow.extensions import db

    with live.app.app_context():
        actor = Actor.system("e2e")
        now = utcnow()
        n = db.session.query(School).count() + 1
        school = School(name="Het Voorbeeld College", slug=f"e2e-{n}")
        db.session.add(school)
        db.session.flush()
        people: list[tuple[Person, Guardian]] = []
        for group, names in CLASSES.items():
            for i, first in enumerate(names):
                person = Person(school_id=school.id, kind="student", external_id=f"{n}{group}{i:02d}",
                                first_name=first, last_name="de Jong" if i % 2 else "Bakker",
                                date_of_birth=date(now.year - 13, 3, 1) if group != "3C" else date(now.year - 14, 3, 1),
                                group_name=group)
                guardian = Guardian(school_id=school.id, name=f"Ouder van {first}",
                                    email=f"{first.lower()}.ouder{n}@example.org")
                person.guardians.append(guardian)
                db.session.add_all([person, guardian])
                people.append((person, guardian))
        db.session.flush()
        year = ensure_school_year(db.session, actor=actor, school_id=school.id, on=now.date(), now=now)
        form = create_form_version(
            db.session, actor=actor, school_id=school.id, school_year_id=year.id,
            # Made before the families signed it (a record cannot predate its form version).
            title="Toestemming beeldmateriaal", now=now - timedelta(days=2), purposes=None,
            wording="Op school maken wij foto's en video's van activiteiten. Geef per gebruik aan of "
                    "dat mag. U kunt uw keuze altijd wijzigen of intrekken via deze link.")
        open_round(db.session, actor=actor, school_id=school.id, school_year_id=year.id, form_id=form.id,
                   ctx=LinkContext(live.url, live.app.config["SECRET_KEY"]), now=now)
        # Most families answered already, in different ways; the first child is ours to answer.
        for i, (person, guardian) in enumerate(people[1:], start=1):
            if i % 4 == 0:
                continue  # no answer yet: on the reminder list
            yes = i % 3 != 0
            decisions = {p: (yes if not p.startswith("press") else False) for p in form.purposes}
            decisions["social_media.photo"] = yes and i % 5 != 0
            record_consent(db.session, actor=actor, person_id=person.id, school_year_id=year.id,
                           form_id=form.id, decisions=decisions, signer_kind="guardian",
                           signer_guardian_id=guardian.id, signer_name=None, method="in_person",
                           signed_at=now - timedelta(days=1), evidence=None, evidence_filename=None,
                           storage_dir=live.app.config["STORAGE_DIR"], now=now)
        db.session.commit()
        child, _guardian = people[0]
        link = db.session.scalar(select(ConsentLink).where(ConsentLink.person_id == child.id))
        return {"school_id": school.id, "child_id": child.id,
                "token": make_token(live.app.config["SECRET_KEY"], link.nonce)}


def _records(live: LiveServer, person_id: int) -> list[dict[str, bool]]:
    from consentflow.extensions import db

    with live.app.app_context():
        return [r.decisions for r in db.session.scalars(
            select(ConsentRecord).where(ConsentRecord.person_id == person_id).order_by(ConsentRecord.id))]


def _consents(live: LiveServer, person_id: int, purpose: str) -> bool:
    from consentflow.extensions import db

    with live.app.app_context():
        return has_consent(db.session, person_id, purpose, utcnow().date())


def test_consent_link_on_a_phone_answer_change_withdraw(live_server: LiveServer, phone_page: Any) -> None:
    seed = _seed(live_server)
    page = phone_page
    page.goto(f"/c/{seed['token']}?lang=nl")
    # Dutch first: the link opens in the school's language, naming the child.
    assert page.locator("html").get_attribute("lang") == "nl"
    assert "Daan" in page.locator("h1").inner_text()
    # Phone-friendly: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    with page.expect_navigation():
        page.click("text=English")
    assert "Save my choice" in page.locator("#save").inner_text()
    screenshot(page, "consent-phone-form.png")

    # Yes to the website, parent portal and newsletter photos; no to everything else.
    for purpose in page.eval_on_selector_all("input.no", "els => els.map(e => e.name)"):
        page.check(f"label[for='{purpose[3:]}-no']")
    for key in ("website.photo", "parent_portal.photo", "newsletter.photo"):
        page.click(f"label[for='{key}-yes']")
    page.click("#save")
    page.wait_for_url("**/done")
    assert "saved" in page.locator("#done-title").inner_text()
    screenshot(page, "consent-phone-done.png")
    assert _consents(live_server, seed["child_id"], "website.photo")
    assert not _consents(live_server, seed["child_id"], "social_media.photo")

    # Change: the page shows the choice on file, pre-selected; switch social media to yes.
    page.click("#change")
    assert page.locator("#on-file").is_visible()
    assert page.is_checked("input[id='website.photo-yes']")
    page.click("label[for='social_media.photo-yes']")
    page.click("#save")
    page.wait_for_url("**/done")
    assert _consents(live_server, seed["child_id"], "social_media.photo")

    # Withdraw everything: one tap, as easy as giving.
    page.click("#change")
    page.click("#withdraw")
    page.wait_for_url("**/done?withdrawn=1")
    assert "withdrawn" in page.locator("#done-title").inner_text()
    screenshot(page, "consent-phone-withdrawn.png")
    records = _records(live_server, seed["child_id"])
    assert len(records) == 3 and not any(records[-1].values())
    assert not _consents(live_server, seed["child_id"], "website.photo")

    # A forged link gets a friendly page, not a stack trace.
    response = page.goto(f"/c/{seed['token'][:-3]}xyz")
    assert response.status == 404
    assert "This link cannot be used" in page.locator("h1").inner_text()
    screenshot(page, "consent-phone-invalid-link.png")


def test_coverage_dashboard_as_admin(live_server: LiveServer, browser_page: Any) -> None:
    seed = _seed(live_server)
    email = make_user(live_server, seed["school_id"], "admin")
    page = browser_page
    login(page, email)
    page.goto("/")
    assert page.locator("a.tile", has_text="Overzicht toestemmingen").count() == 1
    page.click(".langs button[lang=en]")
    page.wait_for_load_state("networkidle")
    assert page.locator("a.tile", has_text="Coverage").count() == 1
    page.goto("/coverage/")
    assert page.locator("#matrix tbody tr").count() == 3
    assert page.locator("#summary .bar").count() == 13
    # The reminder list names the families without an answer (every 4th child, plus Daan).
    remind = page.locator("#remind").inner_text()
    assert "Daan" in remind
    screenshot(page, "coverage-dashboard.png")
    page.click("#matrix tbody tr:first-child th a")
    page.wait_for_load_state("networkidle")
    page.click("#remind tbody tr:first-child a")
    page.wait_for_load_state("networkidle")
    assert page.locator("h2", has_text="Consent history").count() == 1
    screenshot(page, "consent-person-history.png")
