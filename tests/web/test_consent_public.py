"""The public consent page: answer, change, withdraw; forged, expired, revoked links; double posts."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from consentflow.audit.service import Actor
from consentflow.consent.effective import has_consent
from consentflow.consent.links import make_token
from consentflow.consent.rounds import LinkContext, open_round
from consentflow.consent.years import create_form_version, ensure_school_year
from consentflow.events import PurposesWithdrawn, subscribe
from consentflow.models import ConsentLink, ConsentRecord, OutboxMessage, utcnow
from tests import factories

SUBMISSION_RE = re.compile(r'name="submission" value="([^"]+)"')
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PURPOSES = ["website.photo", "social_media.photo", "face_matching"]


def setup_round(db_session: Any, app: Any, *, dob: date = date(2013, 5, 1),
                year_start: date | None = None) -> tuple[Any, Any, ConsentLink]:
    """A school with a round open today; ``year_start``: the day its school years begin."""
    school = factories.school(db_session)
    if year_start is not None:
        school.year_start_month, school.year_start_day = year_start.month, year_start.day
    child = factories.person(db_session, school=school, dob=dob, first="Mila")
    factories.guardian(db_session, school=school, children=[child], name="Pat Parent",
                       email="pat@example.org")
    now = utcnow()
    year = ensure_school_year(db_session, actor=Actor.system("t"), school_id=school.id, on=now.date(), now=now)
    # The form exists from the first day of its year (records may carry any date of it).
    opened = datetime.combine(year.starts_on, datetime.min.time(), timezone.utc)
    form = create_form_version(db_session, actor=Actor.system("t"), school_id=school.id,
                               school_year_id=year.id, title="Beeldmateriaal", wording="Mogen wij...",
                               purposes=PURPOSES, now=opened)
    open_round(db_session, actor=Actor.system("t"), school_id=school.id, school_year_id=year.id,
               form_id=form.id,
               ctx=LinkContext("http://localhost", app.config["SECRET_KEY"]), now=now)
    db_session.commit()
    link = db_session.scalar(select(ConsentLink).where(ConsentLink.person_id == child.id))
    return school, child, link


def url_of(app: Any, link: ConsentLink) -> str:
    return "/c/" + make_token(app.config["SECRET_KEY"], link.nonce)


def page_fields(client: Any, url: str) -> dict[str, str]:
    html = client.get(url).get_data(as_text=True)
    return {"csrf_token": CSRF_RE.search(html).group(1), "submission": SUBMISSION_RE.search(html).group(1)}


def answer(client: Any, url: str, choices: dict[str, str], action: str = "answer") -> Any:
    data = page_fields(client, url) | {"action": action}
    data |= {f"p__{k}": v for k, v in choices.items()}
    return client.post(url, data=data)


def records_of(db_session: Any, person_id: int) -> list[ConsentRecord]:
    return list(db_session.scalars(select(ConsentRecord).where(ConsentRecord.person_id == person_id)
                                   .order_by(ConsentRecord.id)))


def test_answer_change_and_withdraw_through_the_link(app, client, db_session) -> None:
    withdrawn: list[PurposesWithdrawn] = []
    subscribe(PurposesWithdrawn, lambda session, event: withdrawn.append(event))
    school, child, link = setup_round(db_session, app)
    url = url_of(app, link)
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Mila" in html and "Mogen wij" in html and 'name="p__face_matching"' in html

    response = answer(client, url, {"website.photo": "yes", "social_media.photo": "yes", "face_matching": "yes"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/done")
    today = utcnow().date()
    assert has_consent(db_session, child.id, "social_media.photo", today)
    first = records_of(db_session, child.id)[0]
    assert first.method == "digital" and first.signer_kind == "guardian"
    assert first.signer_guardian_id == link.guardian_id and len(first.evidence_sha256) == 64
    # The confirmation went to the outbox (no SMTP configured).
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.to_address == "pat@example.org", OutboxMessage.subject.contains("Mila"))) == 2

    # The same link shows the choice on file and changes it.
    assert 'id="on-file"' in client.get(url).get_data(as_text=True)
    answer(client, url, {"website.photo": "yes", "social_media.photo": "no", "face_matching": "yes"})
    assert not has_consent(db_session, child.id, "social_media.photo", today)
    assert has_consent(db_session, child.id, "website.photo", today)
    assert [e.purposes for e in withdrawn if e.person_id == child.id] == [frozenset({"social_media.photo"})]

    # Withdraw everything with one button, no questions to answer.
    response = answer(client, url, {}, action="withdraw")
    assert response.status_code == 302 and "withdrawn=1" in response.headers["Location"]
    assert not has_consent(db_session, child.id, "website.photo", today)
    assert not has_consent(db_session, child.id, "face_matching", today)
    recs = records_of(db_session, child.id)
    assert len(recs) == 3 and recs[2].supersedes_id == recs[1].id
    assert recs[2].decisions == {p: False for p in PURPOSES}
    assert withdrawn[-1].purposes == frozenset({"website.photo", "face_matching"})
    done = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "withdrawn" in done


def test_unanswered_questions_record_nothing(app, client, db_session) -> None:
    _school, child, link = setup_round(db_session, app)
    response = answer(client, url_of(app, link), {"website.photo": "yes"})
    assert response.status_code == 400
    assert records_of(db_session, child.id) == []


def test_double_submission_records_once(app, client, db_session) -> None:
    _school, child, link = setup_round(db_session, app)
    url = url_of(app, link)
    data = page_fields(client, url) | {"action": "answer", "p__website.photo": "yes",
                                       "p__social_media.photo": "no", "p__face_matching": "no"}
    first = client.post(url, data=data)
    second = client.post(url, data=data)
    assert first.status_code == second.status_code == 302
    assert len(records_of(db_session, child.id)) == 1


def test_forged_token_gets_a_friendly_404(app, client, db_session) -> None:
    _school, child, link = setup_round(db_session, app)
    token = make_token(app.config["SECRET_KEY"], link.nonce)
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
                make_token("another-secret-key-entirely", link.nonce), "nonsense"):
        response = client.get(f"/c/{bad}")
        assert response.status_code == 404
        assert "This link is not valid" in response.get_data(as_text=True)
    # Posting to a forged link records nothing either.
    assert client.post("/c/nonsense", data={"p__website.photo": "yes"}).status_code in (400, 404)
    assert records_of(db_session, child.id) == []


def test_expired_link_is_refused(app, client, db_session) -> None:
    _school, child, link = setup_round(db_session, app)
    url = url_of(app, link)
    fields = page_fields(client, url)
    link.expires_at = utcnow() - timedelta(minutes=1)
    db_session.commit()
    response = client.get(url)
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    posted = client.post(url, data=fields | {"action": "withdraw"})
    assert posted.status_code == 410
    assert records_of(db_session, child.id) == []


def test_revoked_link_cannot_be_replayed(app, client, db_session, auth) -> None:
    school, child, link = setup_round(db_session, app)
    url = url_of(app, link)
    assert answer(client, url, {p: "yes" for p in PURPOSES}).status_code == 302
    fields = page_fields(client, url)
    # The admin revokes the link (e.g. it was forwarded).
    admin_client = app.test_client()
    from tests.conftest import Auth

    Auth(admin_client).as_role(db_session, "admin", school=school)
    token = CSRF_RE.search(admin_client.get(f"/consent/rounds/{link.round_id}").get_data(as_text=True)).group(1)
    assert admin_client.post(f"/consent/links/{link.id}/revoke", data={"csrf_token": token}).status_code == 302
    response = client.get(url)
    assert response.status_code == 410 and "withdrawn by the school" in response.get_data(as_text=True)
    replay = client.post(url, data=fields | {"action": "withdraw"})
    assert replay.status_code == 410
    assert len(records_of(db_session, child.id)) == 1


def test_guardian_link_after_the_child_turned_16_is_refused(app, client, db_session) -> None:
    today = utcnow().date()
    fifteen = date(today.year - 15, 1, 1) if today.month > 1 else date(today.year - 16, 12, 31)
    _school, child, link = setup_round(db_session, app, dob=fifteen)
    url = url_of(app, link)
    fields = page_fields(client, url)
    child.date_of_birth = date(today.year - 17, 1, 1)
    db_session.commit()
    response = client.post(url, data=fields | {"action": "withdraw"})
    assert response.status_code == 409
    assert "decide for themselves" in response.get_data(as_text=True)
    assert records_of(db_session, child.id) == []


def test_language_switch(app, client, db_session) -> None:
    _school, _child, link = setup_round(db_session, app)
    url = url_of(app, link)
    english = client.get(url + "?lang=en").get_data(as_text=True)
    assert "Save my choice" in english and 'lang="en"' in english
    dutch = client.get(url + "?lang=nl").get_data(as_text=True)
    assert 'lang="nl"' in dutch


def test_the_evidence_is_the_canonical_submission(app, client, db_session) -> None:
    import hashlib
    import json
    import os

    _school, child, link = setup_round(db_session, app)
    url = url_of(app, link)
    client.post(url, data=page_fields(client, url) | {"action": "answer", "p__website.photo": "yes",
                                                      "p__social_media.photo": "no", "p__face_matching": "no"},
                headers={"User-Agent": "TestPhone/1.0"})
    rec = records_of(db_session, child.id)[0]
    with open(os.path.join(app.config["STORAGE_DIR"], rec.evidence_key), "rb") as fh:
        raw = fh.read()
    assert hashlib.sha256(raw).hexdigest() == rec.evidence_sha256
    payload = json.loads(raw)
    assert payload["link_id"] == link.id and payload["user_agent"] == "TestPhone/1.0"
    assert payload["decisions"] == {"website.photo": True, "social_media.photo": False, "face_matching": False}
    assert datetime.fromisoformat(payload["submitted_at"]).tzinfo == timezone.utc
