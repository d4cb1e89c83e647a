"""Year links: one link per person and signer for the school year, mailings, newcomers, reminders, 16.

Services only (no Flask views); "now" is passed in, so the reminder schedule
and the 16th birthday are checked on chosen days without waiting.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from consentflow.audit.service import Actor
from consentflow.consent.coverage import compute_coverage
from consentflow.consent.links import (
    LinkContext,
    LinkRefused,
    PublicAddressMissing,
    link_context_from,
    make_token,
    resolve_link,
)
from consentflow.consent.rounds import add_newcomers, open_round, send_person_links, send_reminders
from consentflow.consent.signer import SCHOOL_TZ, local_date, signers_of
from consentflow.consent.submit import submit_via_link
from consentflow.consent.tasks import run_consent_day
from consentflow.consent.turning16 import invite_turned_sixteen
from consentflow.consent.years import create_form_version, ensure_school_year
from consentflow.jobs import get_queue, periodic_due
from consentflow.models import ConsentLink, ConsentRecord, OutboxMessage, utcnow
from tests import factories

PURPOSES = ["website.photo", "social_media.photo", "face_matching"]
SYSTEM = Actor.system("test")


def _ctx(app: Any) -> LinkContext:
    return LinkContext("https://toestemming.example.nl", app.config["SECRET_KEY"])


def _school_year(db_session: Any, now: datetime) -> dict[str, Any]:
    school = factories.school(db_session, name="OBS De Linde")
    year = ensure_school_year(db_session, actor=SYSTEM, school_id=school.id, on=local_date(now), now=now)
    start = datetime.combine(year.starts_on, time(0), timezone.utc)
    form = create_form_version(db_session, actor=SYSTEM, school_id=school.id, school_year_id=year.id,
                               title="Beeldmateriaal", wording="Mogen wij...", purposes=PURPOSES, now=start)
    return {"school": school, "year": year, "form": form}


def _child(db_session: Any, school: Any, first: str, email: str | None = "ouder@example.org",
           dob: date = date(2015, 5, 1)) -> tuple[Any, Any]:
    child = factories.person(db_session, school=school, first=first, dob=dob)
    parent = factories.guardian(db_session, school=school, children=[child], name=f"Ouder van {first}",
                                email=email)
    if email is None:
        parent.email = None
    return child, parent


def _links(db_session: Any, person_id: int) -> list[ConsentLink]:
    return list(db_session.scalars(select(ConsentLink).where(ConsentLink.person_id == person_id)
                                   .order_by(ConsentLink.id)))


def _mails_to(db_session: Any, address: str) -> list[OutboxMessage]:
    return list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == address)
                                   .order_by(OutboxMessage.id)))


def test_a_first_mailing_link_works_after_a_second_mailing_and_opens_the_current_form(app, db_session) -> None:
    now = utcnow()
    w = _school_year(db_session, now)
    child, parent = _child(db_session, w["school"], "Mila", email="mila.ouder@example.org")
    first = open_round(db_session, actor=SYSTEM, school_id=w["school"].id, school_year_id=w["year"].id,
                       form_id=w["form"].id, ctx=_ctx(app), now=now)
    db_session.commit()
    [link] = _links(db_session, child.id)
    token = make_token(app.config["SECRET_KEY"], link.nonce)
    # A second mailing (a new form version) sends the SAME link again; the first one is not killed.
    v2 = create_form_version(db_session, actor=SYSTEM, school_id=w["school"].id, school_year_id=w["year"].id,
                             title="Beeldmateriaal v2", wording="Nieuw", purposes=[*PURPOSES, "press.photo"],
                             now=now)
    second = open_round(db_session, actor=SYSTEM, school_id=w["school"].id, school_year_id=w["year"].id,
                        form_id=v2.id, ctx=_ctx(app), now=now + timedelta(days=20), audience="everyone")
    db_session.commit()
    assert first.round.closed_at is not None and second.links == 0
    assert _links(db_session, child.id) == [link]
    assert len(_mails_to(db_session, "mila.ouder@example.org")) == 2
    resolved = resolve_link(db_session, app.config["SECRET_KEY"], token, now + timedelta(days=21))
    assert resolved.id == link.id
    # Withdrawing one channel through it answers the current form version.
    answer = {p: True for p in [*PURPOSES, "press.photo"]} | {"social_media.photo": False}
    sub = submit_via_link(db_session, link=resolved, decisions=answer, action="answer", user_agent="t",
                          submission_nonce="n" * 20, storage_dir=app.config["STORAGE_DIR"], ctx=_ctx(app),
                          now=now + timedelta(days=21))
    assert sub.record.form_id == v2.id and sub.record.decisions["social_media.photo"] is False
    assert sub.record.decisions["website.photo"] is True


def test_a_mailing_to_the_unanswered_does_not_mail_families_who_answered(app, db_session) -> None:
    now = utcnow()
    w = _school_year(db_session, now)
    answered, _p1 = _child(db_session, w["school"], "Anna", email="anna.ouder@example.org")
    silent, _p2 = _child(db_session, w["school"], "Bram", email="bram.ouder@example.org")
    open_round(db_session, actor=SYSTEM, school_id=w["school"].id, school_year_id=w["year"].id,
               form_id=w["form"].id, ctx=_ctx(app), now=now)
    [link] = _links(db_session, answered.id)
    submit_via_link(db_session, link=link, decisions={p: True for p in PURPOSES}, action="answer",
                    user_agent="t", submission_nonce="a" * 20, storage_dir=app.config["STORAGE_DIR"],
                    ctx=_ctx(app), now=now)
    open_round(db_session, actor=SYSTEM, school_id=w["school"].id, school_year_id=w["year"].id,
               form_id=w["form"].id, ctx=_ctx(app), now=now + timedelta(days=1))
    # Anna's family: the first mailing and the confirmation, nothing more; Bram's: both mailings.
    assert len(_mails_to(db_session, "anna.ouder@example.org")) == 2
    assert len(_mails_to(db_session, "bram.ouder@example.org")) == 2


def test_links_expire_at_the_end_of_the_school_year_school_time(app, db_session) -> None:
    now = utcnow()
    w = _school_year(db_session, now)
    child, _parent = _child(db_session, w["school"], "Mila")
    open_round(db_session, actor=SYSTEM, school_id=w["school"].id, school_year_id=w["year"].id,
               form_id=w["form"].id, ctx=_ctx(app), now=now)
    db_session.commit()
    [link] = _links(db_session, child.id)
    last_day = w["year"].ends_on
    assert link.expires_at == datetime.combine(last_day + timedelta(days=1), time(0), SCHOOL_TZ)
    token = make_token(app.config["SECRET_KEY"], link.nonce)
    evening = datetime.combine(last_day, time(23, 30), SCHOOL_TZ).astimezone(timezone.utc)
    assert resolve_link(db_session, app.config["SECRET_KEY"], token, evening).id == link.id
    with pytest.raises(LinkRefused) as refused:
        resolve_link(db_session, app.config["SECRET_KEY"], token, evening + timedelta(hours=1))
    assert refused.value.reason == "expired" and refused.value.status_code == 410


def test_newcomers_join_the_open_mailing_once(app, db_session) -> None:
    now = utcnow()
    w = _school_year(db_session, now)
    _child(db_session, w["school"], "Anna", email="anna.ouder@example.org")
    summary = open_round(db_session, actor=SYSTEM, school_id=w["school"].id, school_year_id=w["year"].id,
                         form_id=w["form"].id, ctx=_ctx(app), now=now)
    newcomer, _p = _child(db_session, w["school"], "Nina", email="nina.ouder@example.org")
    later = now + timedelta(days=3)
    joined = add_newcomers(db_session, actor=SYSTEM, school_id=w["school"].id, round_id=summary.round.id,
                           ctx=_ctx(app), now=later)
    assert joined.links == 1 and joined.messages == 1
    [link] = _links(db_session, newcomer.id)
    assert link.round_id == summary.round.id and link.last_sent_at == later
    again = add_newcomers(db_session, actor=SYSTEM, school_id=w["school"].id, round_id=summary.round.id,
                          ctx=_ctx(app), now=later)
    assert again.links == 0 and len(_mails_to(db_session, "nina.ouder@example.org")) == 1
    # Per-person send: the same link again, not a new one.
    sent = send_person_links(db_session, actor=SYSTEM, school_id=w["school"].id, person_id=newcomer.id,
                             ctx=_ctx(app), now=later)
    assert sent.links == 0 and sent.messages == 1 and _links(db_session, newcomer.id) == [link]


def test_reminders_follow_the_schools_schedule_and_stop_after_an_answer(app, db_session) -> None:
    now = utcnow()
    w = _school_year(db_session, now)
    silent, _p1 = _child(db_session, w["school"], "Bram", email="bram.ouder@example.org")
    answers, _p2 = _child(db_session, w["school"], "Anna", email="anna.ouder@example.org")
    rnd = open_round(db_session, actor=SYSTEM, school_id=w["school"].id, school_year_id=w["year"].id,
                     form_id=w["form"].id, ctx=_ctx(app), now=now, reminder_every_days=3, reminder_max=2).round
    [anna_link] = _links(db_session, answers.id)
    submit_via_link(db_session, link=anna_link, decisions={p: False for p in PURPOSES}, action="answer",
                    user_agent="t", submission_nonce="b" * 20, storage_dir=app.config["STORAGE_DIR"],
                    ctx=_ctx(app), now=now + timedelta(days=1))

    def remind(days: float) -> int:
        return send_reminders(db_session, school_id=w["school"].id, round_id=rnd.id, ctx=_ctx(app),
                              now=now + timedelta(days=days))

    assert remind(2) == 0  # not due yet
    assert remind(3) == 1
    assert remind(3.5) == 0  # a second run the same day sends nothing (idempotent)
    assert remind(6) == 1
    assert remind(30) == 0  # at most two reminders
    bram = _mails_to(db_session, "bram.ouder@example.org")
    assert [m.subject.startswith("Herinnering") for m in bram] == [False, True, True]
    assert len(_mails_to(db_session, "anna.ouder@example.org")) == 2  # invitation + confirmation only
    [link] = _links(db_session, silent.id)
    assert link.reminders_sent == 2


@pytest.mark.parametrize("days_after_birthday, invited", [(-1, False), (0, True), (1, True)])
def test_the_daily_task_sends_a_student_who_turned_16_their_own_link(app, db_session, days_after_birthday: int,
                                                                     invited: bool) -> None:
    # The task runs at 04:00 UTC; "today" is the school's date then.
    run_at = datetime.combine(local_date(utcnow()), time(4, 0), timezone.utc)
    today = local_date(run_at)
    birthday = today - timedelta(days=days_after_birthday)
    w = _school_year(db_session, run_at)
    student, parent = _child(db_session, w["school"], "Sven", email="sven.ouder@example.org",
                             dob=birthday.replace(year=birthday.year - 16))
    student.email = "sven@example.org"
    letter, _p = _child(db_session, w["school"], "Lina", email="lina.ouder@example.org",
                        dob=birthday.replace(year=birthday.year - 16))
    open_round(db_session, actor=SYSTEM, school_id=w["school"].id, school_year_id=w["year"].id,
               form_id=w["form"].id, ctx=_ctx(app), now=run_at - timedelta(days=30))
    db_session.commit()
    own = invite_turned_sixteen(db_session, school_id=w["school"].id, ctx=_ctx(app), now=run_at)
    assert sorted((o.person.first_name, o.mailed) for o in own) == (
        [("Lina", False), ("Sven", True)] if invited else [])
    mails = _mails_to(db_session, "sven@example.org")
    assert len(mails) == (1 if invited else 0)
    if invited:
        assert "Je bent nu 16" in mails[0].body and "https://toestemming.example.nl/c/" in mails[0].body
    # Idempotent: the next day's run makes no second link and sends nothing again.
    assert invite_turned_sixteen(db_session, school_id=w["school"].id, ctx=_ctx(app),
                                 now=run_at + timedelta(hours=1)) == []
    self_links = [lk for lk in _links(db_session, student.id) if lk.guardian_id is None]
    assert len(self_links) == (1 if invited else 0)


def test_every_list_says_the_same_about_who_signs(app, db_session) -> None:
    now = utcnow()
    w = _school_year(db_session, now)
    today = local_date(now)
    older, _parent = _child(db_session, w["school"], "Ruben", email="ruben.ouder@example.org",
                            dob=today.replace(year=today.year - 17) - timedelta(days=3))
    older.email = "ruben@example.org"
    assert signers_of(older, today).self_signs
    cov = compute_coverage(db_session, school_id=w["school"].id, year=w["year"], today=today)
    [row] = [r for r in cov.remind if r.person.id == older.id]
    assert row.contacts == ("ruben@example.org",)  # not the guardian's address
    open_round(db_session, actor=SYSTEM, school_id=w["school"].id, school_year_id=w["year"].id,
               form_id=w["form"].id, ctx=_ctx(app), now=now)
    assert [lk.guardian_id for lk in _links(db_session, older.id)] == [None]


def test_the_public_address_is_required_and_never_loopback_in_production(app) -> None:
    base = {"SECRET_KEY": "x" * 32, "TESTING": False, "DEBUG": False}
    with pytest.raises(PublicAddressMissing):
        link_context_from(base | {"PUBLIC_BASE_URL": ""})
    for loopback in ("http://127.0.0.1:5000", "http://localhost", "https://[::1]/", "http://0.0.0.0:8000"):
        with pytest.raises(PublicAddressMissing):
            link_context_from(base | {"PUBLIC_BASE_URL": loopback})
    assert link_context_from(base | {"PUBLIC_BASE_URL": "https://toestemming.school.nl/"}).base_url == \
        "https://toestemming.school.nl"
    assert link_context_from({"SECRET_KEY": "k", "TESTING": True}).base_url == "http://127.0.0.1:5000"


def test_a_loopback_public_address_refuses_to_start_in_production(tmp_path) -> None:
    from consentflow import create_app
    from consentflow.config import ConfigError

    production = {"SECRET_KEY": "s" * 40, "PUBLIC_BASE_URL": "http://localhost:5000",
                  "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", "QUEUE_BACKEND": "memory"}
    with pytest.raises(ConfigError, match="loopback"):
        create_app(production)
    # The one-machine demo (`make run`) says so explicitly.
    demo = create_app(production | {"ALLOW_LOOPBACK_LINKS": True})
    assert link_context_from(demo.config).base_url == "http://localhost:5000"


def test_the_consent_day_runs_daily_in_the_worker_and_does_everything_once(app, db_session) -> None:
    assert "consent.day.daily" in periodic_due(get_queue(app), datetime(2026, 12, 2, 4, 0))
    assert "consent.day.daily" not in periodic_due(get_queue(app), datetime(2026, 12, 2, 5, 0))
    now = utcnow()
    w = _school_year(db_session, now)
    open_round(db_session, actor=SYSTEM, school_id=w["school"].id, school_year_id=w["year"].id,
               form_id=w["form"].id, ctx=_ctx(app), now=now, reminder_every_days=7, reminder_max=1)
    newcomer, _p = _child(db_session, w["school"], "Nina", email="nina.ouder@example.org")
    assert run_consent_day(db_session, _ctx(app), now + timedelta(days=1))["newcomers"] == 1
    assert run_consent_day(db_session, _ctx(app), now + timedelta(days=8))["reminders"] == 1
    assert run_consent_day(db_session, _ctx(app), now + timedelta(days=8))["reminders"] == 0
    assert db_session.scalar(select(func.count()).select_from(ConsentRecord)) == 0
    assert len(_mails_to(db_session, "nina.ouder@example.org")) == 2
