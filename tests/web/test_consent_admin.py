"""Consent admin pages: years, forms, rounds, outbox, person history, paper records, coverage."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from io import BytesIO

from sqlalchemy import func, select

from consentflow.audit.service import Actor
from consentflow.consent.service import record_consent
from consentflow.models import (
    AuditEvent,
    ConsentForm,
    ConsentLink,
    ConsentRecord,
    OutboxMessage,
    SchoolYear,
    utcnow,
)
from tests import factories
from tests.web.test_consent_public import answer, setup_round, url_of

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _csrf(client, path: str) -> str:
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


def test_admin_creates_year_and_opens_a_round(app, client, auth, db_session) -> None:
    school = factories.school(db_session)
    young = factories.person(db_session, school=school, dob=date(2014, 2, 2), first="Young")
    factories.guardian(db_session, school=school, children=[young], email="g1@example.org")
    factories.guardian(db_session, school=school, children=[young], email="g2@example.org")
    old = factories.person(db_session, school=school, dob=date(2005, 2, 2), first="Older")
    old.email = "older@example.org"
    factories.person(db_session, school=school, dob=date(2014, 2, 2), first="Orphan")
    auth.as_role(db_session, "admin", school=school)
    token = _csrf(client, "/consent/")
    response = client.post("/consent/years", data={"csrf_token": token, "on": utcnow().date().isoformat()})
    assert response.status_code == 302
    year = db_session.scalar(select(SchoolYear).where(SchoolYear.school_id == school.id))
    form = db_session.scalar(select(ConsentForm).where(ConsentForm.school_year_id == year.id))
    assert form.version == 1 and "face_matching" in form.purposes
    response = client.post("/consent/rounds", data={"csrf_token": token, "form_id": form.id,
                                                    "audience": "everyone", "reminder_max": 0})
    assert response.status_code == 302
    links = db_session.scalars(select(ConsentLink).where(ConsentLink.school_id == school.id)).all()
    # One per guardian-child pair, one for the 16+ student, none for the child without guardians.
    assert sorted((lk.person.first_name, lk.guardian_id is None) for lk in links) == [
        ("Older", True), ("Young", False), ("Young", False)]
    to = set(db_session.scalars(select(OutboxMessage.to_address)))
    assert to == {"g1@example.org", "g2@example.org", "older@example.org"}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "/c/" in page and "Young" in page
    outbox = client.get("/consent/outbox").get_data(as_text=True)
    assert "g1@example.org" in outbox and "not sent" in outbox
    message = db_session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == "older@example.org"))
    body = client.get(f"/consent/outbox?show={message.id}").get_data(as_text=True)
    assert "http://127.0.0.1:5000/c/" in body


def test_new_form_version_keeps_the_old_one(app, client, auth, db_session) -> None:
    school, _child, link = setup_round(db_session, app)
    auth.as_role(db_session, "admin", school=school)
    old = link.round.form
    token = _csrf(client, f"/consent/forms/new?from={old.id}")
    response = client.post("/consent/forms/new", data={
        "csrf_token": token, "school_year_id": old.school_year_id, "title": "Nieuw", "wording": "Tekst 2",
        "purposes": ["website.photo", "press.photo"]})
    assert response.status_code == 302
    versions = db_session.scalars(select(ConsentForm).where(ConsentForm.school_year_id == old.school_year_id)
                                  .order_by(ConsentForm.version)).all()
    assert [v.version for v in versions] == [1, 2] and versions[0].wording == "Mogen wij..."


def test_paper_record_with_scan_and_signer_rule_message(app, client, auth, db_session) -> None:
    school, child, link = setup_round(db_session, app)
    auth.as_role(db_session, "admin", school=school)
    path = f"/consent/person/{child.id}/record"
    token = _csrf(client, path)
    today = utcnow().date().isoformat()
    # The child is under 16: the child may not sign.
    refused = client.post(path, data={"csrf_token": token, "form_id": link.round.form_id, "signer": "self",
                                      "method": "in_person", "signed_on": today, "p__website.photo": "y"})
    assert refused.status_code == 400 and "must sign" in refused.get_data(as_text=True)
    ok = client.post(path, data={
        "csrf_token": token, "form_id": link.round.form_id, "signer": f"g{link.guardian_id}",
        "method": "paper", "signed_on": today, "p__website.photo": "y",
        "evidence": (BytesIO(b"%PDF-1.4 scan"), "scan.pdf")}, content_type="multipart/form-data")
    assert ok.status_code == 302
    rec = db_session.scalar(select(ConsentRecord).where(ConsentRecord.person_id == child.id))
    assert rec.method == "paper" and rec.decisions["website.photo"] is True
    assert rec.decisions["face_matching"] is False
    page = client.get(f"/consent/person/{child.id}").get_data(as_text=True)
    assert rec.evidence_sha256 in page and "in force" in page
    download = client.get(f"/consent/person/evidence/{rec.id}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 scan"
    download.close()


def test_coverage_counts_reminders_and_csv(app, client, auth, db_session) -> None:
    school, child, link = setup_round(db_session, app)
    other = factories.person(db_session, school=school, dob=date(2013, 1, 1), group="1B", first="Nora")
    factories.guardian(db_session, school=school, children=[other], email="nora.parent@example.org")
    db_session.commit()
    answer(client, url_of(app, link), {"website.photo": "yes", "social_media.photo": "no", "face_matching": "no"})
    viewer = app.test_client()
    from tests.conftest import Auth

    Auth(viewer).as_role(db_session, "privacy", school=school)
    page = viewer.get("/coverage/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Nora" in html and 'id="matrix"' in html
    assert "Mila" not in html.split('id="remind"')[1]  # answered: not on the reminder list
    counts = viewer.get("/coverage/export.csv?kind=counts").get_data(as_text=True)
    # Purposes in words, not codes (the export is read by people).
    assert "2A;School website — Photos;1;0;0;1" in counts
    assert "1B;School website — Photos;0;0;1;1" in counts
    assert "2A;School social media accounts — Photos;0;1;0;1" in counts
    assert "website.photo" not in counts
    remind = viewer.get("/coverage/export.csv?kind=remind").get_data(as_text=True)
    assert "nora.parent@example.org" in remind and "Mila" not in remind
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "coverage.export_remind")) == 1
    # Privacy reads but does not record consent.
    assert viewer.get(f"/consent/person/{child.id}/record").status_code == 403
    assert viewer.get(f"/consent/person/{child.id}").status_code == 200


def test_conflicts_and_turned_16(app, client, auth, db_session) -> None:
    # The school year began 60 days ago, whatever today is: there is always a
    # first day of the year before a birthday that falls today.
    start = utcnow().date() - timedelta(days=60)
    school, child, link = setup_round(db_session, app,
                                      year_start=start if (start.month, start.day) != (2, 29)
                                      else start - timedelta(days=1))
    second = factories.guardian(db_session, school=school, children=[child], name="Sam Second")
    year = link.round.school_year
    db_session.commit()
    now = utcnow()
    answer(client, url_of(app, link), {"website.photo": "yes", "social_media.photo": "yes", "face_matching": "no"})
    later = utcnow() + timedelta(seconds=1)
    record_consent(db_session, actor=Actor.system("t"), person_id=child.id, school_year_id=year.id,
                   form_id=link.round.form_id, decisions={"website.photo": False}, signer_kind="guardian",
                   signer_guardian_id=second.id, signer_name=None, method="in_person", signed_at=later,
                   evidence=None, evidence_filename=None, storage_dir=app.config["STORAGE_DIR"], now=later)
    # A student whose 16th birthday is today; a guardian signed on the first day of the year.
    today = now.date()
    assert today > year.starts_on
    # 16 years before a leap day is a leap day too, so this date always exists.
    teen = factories.person(db_session, school=school, dob=today.replace(year=today.year - 16), first="Teen")
    teen.email = "teen@example.org"
    parent = factories.guardian(db_session, school=school, children=[teen])
    record_consent(db_session, actor=Actor.system("t"), person_id=teen.id, school_year_id=year.id,
                   form_id=link.round.form_id, decisions={"website.photo": True}, signer_kind="guardian",
                   signer_guardian_id=parent.id, signer_name=None, method="in_person",
                   signed_at=datetime.combine(year.starts_on, datetime.min.time(), timezone.utc)
                   + timedelta(hours=12), evidence=None, evidence_filename=None,
                   storage_dir=app.config["STORAGE_DIR"], now=now)
    db_session.commit()
    auth.as_role(db_session, "admin", school=school)
    conflicts = client.get("/consent/conflicts").get_data(as_text=True)
    assert "Mila" in conflicts and "Sam Second" in conflicts and "Pat Parent" in conflicts
    listing = client.get("/consent/turned-16").get_data(as_text=True)
    assert "Teen" in listing and "Mila" not in listing
    token = _csrf(client, "/consent/turned-16")
    assert client.post(f"/consent/turned-16/{teen.id}/invite", data={"csrf_token": token}).status_code == 302
    own = db_session.scalar(select(ConsentLink).where(ConsentLink.person_id == teen.id,
                                                      ConsentLink.guardian_id.is_(None)))
    assert own is not None
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.to_address == "teen@example.org")) == 1
    # The guardians' record stays in force until the student answers.
    from consentflow.consent.effective import has_consent

    assert has_consent(db_session, teen.id, "website.photo", today)


def test_teacher_cannot_open_consent_pages(app, client, auth, db_session) -> None:
    auth.as_role(db_session, "teacher")
    for url in ("/consent/", "/coverage/", "/consent/outbox", "/people/import", "/coverage/export.csv"):
        assert client.get(url).status_code == 403, url
