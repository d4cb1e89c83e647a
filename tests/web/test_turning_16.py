"""Turning 16: from the birthday on, a guardian's old link shows nothing of the student's choices.

The student answered with their own link; the guardian's link (made while the
student was 15) must not show those answers on the consent page, on its
confirmation page or in the self-service overview. It explains instead that
the student now decides. Checked the day before, on and after the birthday,
with "today" in the school's time zone as the app uses it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.consent.links import make_token, new_nonce
from consentflow.consent.service import record_consent
from consentflow.consent.signer import local_date, sixteenth_birthday
from consentflow.consent.years import create_form_version, ensure_school_year
from consentflow.models import ConsentLink, ConsentRecord, ConsentRound, utcnow
from tests import factories
from tests.web.test_consent_public import page_fields

PURPOSES = ["website.photo", "social_media.photo", "face_matching"]
CHECKED_RE = re.compile(r'id="([a-z_.]+)-(yes|no)"[^>]*\bchecked\b')


def _dob_for_birthday(birthday: date) -> date:
    dob = birthday.replace(year=birthday.year - 16)
    assert sixteenth_birthday(dob) == birthday
    return dob


def _world(db_session: Any, app: Any, days_since_birthday: int) -> dict[str, Any]:
    """A student whose 16th birthday is ``days_since_birthday`` days before today (school time)."""
    now = utcnow()
    today = local_date(now)
    school = factories.school(db_session)
    child = factories.person(db_session, school=school, first="Mila",
                             dob=_dob_for_birthday(today - timedelta(days=days_since_birthday)))
    child.email = "mila@example.org"
    parent = factories.guardian(db_session, school=school, children=[child], name="Pat Parent")
    actor = Actor.system("test")
    year = ensure_school_year(db_session, actor=actor, school_id=school.id, on=today, now=now)
    earlier = datetime.combine(year.starts_on, time(9), timezone.utc)  # the form of the whole year
    form = create_form_version(db_session, actor=actor, school_id=school.id, school_year_id=year.id,
                               title="Beeldmateriaal", wording="Mogen wij...", purposes=PURPOSES,
                               now=earlier)
    rnd = ConsentRound(school_id=school.id, school_year_id=year.id, form_id=form.id, opened_at=earlier)
    db_session.add(rnd)
    db_session.flush()
    links = {}
    for who, guardian in (("guardian", parent), ("self", None)):
        link = ConsentLink(school_id=school.id, round_id=rnd.id, person_id=child.id,
                           guardian_id=guardian.id if guardian else None, nonce=new_nonce(),
                           expires_at=now + timedelta(days=30))
        db_session.add(link)
        db_session.flush()
        links[who] = "/c/" + make_token(app.config["SECRET_KEY"], link.nonce)
    db_session.commit()
    return {"school": school, "child": child, "parent": parent, "year": year, "form": form,
            "links": links, "now": now, "today": today, "storage": str(app.config["STORAGE_DIR"])}


def _record(db_session: Any, w: dict[str, Any], *, signer: str, decisions: dict[str, bool],
            signed_at: Any) -> ConsentRecord:
    record = record_consent(
        db_session, actor=Actor.system("test"), person_id=w["child"].id, school_year_id=w["year"].id,
        form_id=w["form"].id, decisions=decisions, signer_kind=signer,
        signer_guardian_id=w["parent"].id if signer == "guardian" else None, signer_name=None,
        method="in_person", signed_at=signed_at, evidence=None, evidence_filename=None,
        storage_dir=w["storage"], now=w["now"])
    db_session.commit()
    return record


GUARDIAN_ANSWERS = {"website.photo": True, "social_media.photo": True, "face_matching": True}
STUDENT_ANSWERS = {"website.photo": True, "social_media.photo": False, "face_matching": False}


def _assert_shows_nothing(client: Any, url: str, w: dict[str, Any]) -> None:
    for path, status in ((url, 403), (url + "/done", 403), (url + "/overview", 403)):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == status, path
        assert 'id="student-decides"' in html, path
        for leak in ('id="on-file"', 'id="answers"', 'id="consent-form"', "data-purpose", "data-record",
                     "Social media", "social_media"):
            assert leak not in html, (path, leak)
        assert CHECKED_RE.findall(html) == [], path
    # Posting a page (valid CSRF token, fresh submission) through the old link changes nothing.
    fields = page_fields(client, w["links"]["self"])
    post = client.post(url, data=fields | {"action": "withdraw"})
    assert post.status_code == 409 and 'id="student-decides"' in post.get_data(as_text=True)


def test_day_before_the_16th_birthday_the_guardian_sees_their_answers(app, client, db_session) -> None:
    w = _world(db_session, app, days_since_birthday=-1)
    _record(db_session, w, signer="guardian", decisions=GUARDIAN_ANSWERS, signed_at=w["now"])
    url = w["links"]["guardian"]
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="on-file"' in html and 'id="student-decides"' not in html
    assert sorted(CHECKED_RE.findall(html)) == sorted(
        (p, "yes" if yes else "no") for p, yes in GUARDIAN_ANSWERS.items())
    done = client.get(url + "/done")
    assert done.status_code == 200 and 'id="answers"' in done.get_data(as_text=True)
    overview = client.get(url + "/overview")
    assert overview.status_code == 200 and "data-purpose" in overview.get_data(as_text=True)


@pytest.mark.parametrize("days_since_birthday", [0, 1])
def test_from_the_16th_birthday_the_guardian_link_shows_nothing(app, client, db_session,
                                                                days_since_birthday: int) -> None:
    w = _world(db_session, app, days_since_birthday=days_since_birthday)
    # The guardian signed while the student was 15, then the student answered themself.
    before_birthday = w["now"] - timedelta(days=days_since_birthday + 1)
    _record(db_session, w, signer="guardian", decisions=GUARDIAN_ANSWERS, signed_at=before_birthday)
    _record(db_session, w, signer="self", decisions=STUDENT_ANSWERS, signed_at=w["now"])

    _assert_shows_nothing(client, w["links"]["guardian"], w)
    records = db_session.scalars(select(ConsentRecord).where(
        ConsentRecord.person_id == w["child"].id)).all()
    assert len(records) == 2  # the refused post recorded nothing

    # The student's own link shows the student's answers.
    own = client.get(w["links"]["self"])
    html = own.get_data(as_text=True)
    assert own.status_code == 200 and 'id="student-decides"' not in html
    assert sorted(CHECKED_RE.findall(html)) == sorted(
        (p, "yes" if yes else "no") for p, yes in STUDENT_ANSWERS.items())


def test_the_explanation_is_dutch_for_a_dutch_guardian(app, client, db_session) -> None:
    w = _world(db_session, app, days_since_birthday=0)
    html = client.get(w["links"]["guardian"] + "?lang=nl").get_data(as_text=True)
    assert "Vanaf 16 jaar beslissen leerlingen zelf" in html and "Mila" in html
