"""Back-dated signatures: a record's signing date lies in its form's school year, on or after the
day that form version was made, and not in the future; the signer rule is checked on that date.

Before the fix a guardian's signature for a 17-year-old dated two years back
(when the student was 15) was accepted and counted for this school year.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from io import BytesIO
from typing import Any

import pytest
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.consent.effective import has_consent
from consentflow.consent.service import record_consent
from consentflow.consent.signer import SCHOOL_TZ, SigningDateInvalid, local_date, sixteenth_birthday
from consentflow.consent.years import create_form_version, ensure_school_year
from consentflow.errors import SignerRuleViolation
from consentflow.models import ConsentRecord, utcnow
from tests import factories
from tests.web.test_consent_admin import _csrf

ACTOR = Actor.system("test")


def _school_time(day: date) -> datetime:
    return datetime.combine(day, time(12), SCHOOL_TZ)


def _world(db_session: Any, dob: date, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    today = local_date(now)
    school = factories.school(db_session)
    student = factories.person(db_session, school=school, dob=dob, first="Noor")
    parent = factories.guardian(db_session, school=school, children=[student], name="Pat Parent")
    year = ensure_school_year(db_session, actor=ACTOR, school_id=school.id, on=today, now=now)
    form = create_form_version(db_session, actor=ACTOR, school_id=school.id, school_year_id=year.id,
                               title="Beeldmateriaal", wording="...", purposes=["website.photo"],
                               now=_school_time(year.starts_on))
    db_session.commit()
    return {"school": school, "student": student, "parent": parent, "year": year, "form": form,
            "now": now, "today": today}


def _sign(db_session: Any, app: Any, w: dict[str, Any], signed_at: datetime, *, form: Any = None,
          guardian: bool = True) -> ConsentRecord:
    return record_consent(
        db_session, actor=ACTOR, person_id=w["student"].id, school_year_id=w["year"].id,
        form_id=(form or w["form"]).id, decisions={"website.photo": True},
        signer_kind="guardian" if guardian else "self",
        signer_guardian_id=w["parent"].id if guardian else None, signer_name=None,
        method="in_person", signed_at=signed_at, evidence=None, evidence_filename=None,
        storage_dir=app.config["STORAGE_DIR"], now=w["now"])


def _records(db_session: Any, w: dict[str, Any]) -> list[ConsentRecord]:
    return list(db_session.scalars(select(ConsentRecord).where(ConsentRecord.person_id == w["student"].id)))


def test_guardian_signature_from_two_years_ago_does_not_count_for_a_17_year_old(app, db_session) -> None:
    today = local_date(utcnow())
    w = _world(db_session, dob=today.replace(year=today.year - 17) - timedelta(days=30))
    two_years_ago = w["now"] - timedelta(days=730)
    with pytest.raises(SigningDateInvalid) as refused:
        _sign(db_session, app, w, two_years_ago)
    assert refused.value.reason == "outside_year"
    db_session.rollback()
    assert _records(db_session, w) == []
    assert not has_consent(db_session, w["student"].id, "website.photo", today)


def test_signature_before_the_form_version_existed_or_in_the_future_is_refused(app, db_session) -> None:
    w = _world(db_session, dob=date(2014, 3, 3))
    year = w["year"]
    newer = create_form_version(db_session, actor=ACTOR, school_id=w["school"].id, school_year_id=year.id,
                                title="Beeldmateriaal 2", wording="...", purposes=["website.photo"],
                                now=w["now"])
    db_session.commit()
    if w["today"] > year.starts_on:
        with pytest.raises(SigningDateInvalid) as refused:
            _sign(db_session, app, w, _school_time(w["today"] - timedelta(days=1)), form=newer)
        assert refused.value.reason == "before_form"
        db_session.rollback()
    with pytest.raises(SigningDateInvalid) as refused:
        _sign(db_session, app, w, w["now"] + timedelta(days=1))
    assert refused.value.reason == "future"
    db_session.rollback()
    assert _records(db_session, w) == []
    # Today, on the newest version: accepted.
    assert _sign(db_session, app, w, w["now"], form=newer).form_id == newer.id


def test_signer_rule_is_checked_on_the_signing_date(app, db_session) -> None:
    """A guardian may sign the day before the 16th birthday, not on it (both dates in this year)."""
    # "Now" is a fixed school day in November (the services take it as an
    # argument), so the test runs the same on every day of the real calendar.
    now = _school_time(date(2026, 11, 16)).astimezone(SCHOOL_TZ)
    birthday = local_date(now)
    w = _world(db_session, dob=birthday.replace(year=birthday.year - 16), now=now)
    assert sixteenth_birthday(w["student"].date_of_birth) == birthday
    with pytest.raises(SignerRuleViolation):
        _sign(db_session, app, w, w["now"])  # today, the birthday
    db_session.rollback()
    record = _sign(db_session, app, w, _school_time(birthday - timedelta(days=1)))
    assert record.signer_kind == "guardian"


def test_paper_record_with_a_back_dated_signature_gets_a_form_error(app, client, auth, db_session) -> None:
    today = local_date(utcnow())
    w = _world(db_session, dob=today.replace(year=today.year - 17) - timedelta(days=30))
    auth.as_role(db_session, "admin", school=w["school"])
    path = f"/consent/person/{w['student'].id}/record"
    back_dated = (today - timedelta(days=730)).isoformat()
    data = {"form_id": w["form"].id, "signer": f"g{w['parent'].id}", "method": "paper",
            "signed_on": back_dated, "p__website.photo": "y"}

    response = client.post(path, data=data | {"csrf_token": _csrf(client, path),
                                              "evidence": (BytesIO(b"%PDF-1.4 scan"), "scan.pdf")},
                           content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f"a form signed on {back_dated} does not count for it" in html
    assert _records(db_session, w) == []

    tomorrow = (today + timedelta(days=1)).isoformat()
    response = client.post(path, data=data | {"signed_on": tomorrow, "csrf_token": _csrf(client, path),
                                              "evidence": (BytesIO(b"%PDF-1.4 scan"), "scan.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "lies in the future" in response.get_data(as_text=True)
    assert _records(db_session, w) == []

    with client.session_transaction() as browser:
        browser["lang"] = "nl"
    dutch = client.post(path, data=data | {"csrf_token": _csrf(client, path),
                                                        "evidence": (BytesIO(b"%PDF"), "scan.pdf")},
                        content_type="multipart/form-data")
    assert dutch.status_code == 400
    assert f"een formulier dat is ondertekend op {back_dated} telt daarvoor niet" in dutch.get_data(as_text=True)
