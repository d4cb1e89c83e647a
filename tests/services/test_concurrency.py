"""Several processes at once on the same objects: one winner per transition, nothing lost.

Real processes (multiprocessing, spawn), each with its own app, engine and
connections, released together by a barrier, each doing what a request does
(the use case, then commit; a domain error rolls back and is shown to the
user as a message). Three races, on SQLite and PostgreSQL:

* approving, requesting publication of and publishing the same photos;
* recording consent for the same person;
* importing the same roster.

Required: exactly one winner per transition (the others told why, as a
domain error), no lost update (every record written is in the chain), and
no database error at all, "database is locked" included: that would be a
500 page for the user.
"""

from __future__ import annotations

import multiprocessing
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from consentflow.errors import DomainError
from consentflow.models import AuditEvent, ConsentRecord, Person, PhotoPurpose, Publication, utcnow
from tests import factories
from tests.conftest import DATA_DIR, make_app

pytestmark = pytest.mark.slow

PROCESSES = 4
CHANNEL = "social_media"
SPAWN = multiprocessing.get_context("spawn")


# --- what each process does (module level: spawned processes import it) ----------------


def _approve(ids: dict[str, Any], who: int) -> list[str]:
    from consentflow.audit.service import Actor
    from consentflow.extensions import db
    from consentflow.publish.service import approve_purpose

    out = []
    for photo_id, version in ids["photos"]:
        try:
            approve_purpose(db.session, actor=Actor(ids["user"], "pr"), school_id=ids["school"],
                            photo_id=photo_id, channel=CHANNEL, expected_version=version,
                            now=utcnow())
            db.session.commit()
            out.append("won")
        except DomainError as err:
            db.session.rollback()
            out.append(type(err).__name__)
    return out


def _request(ids: dict[str, Any], who: int) -> list[str]:
    from consentflow.audit.service import Actor
    from consentflow.extensions import db
    from consentflow.publish.background import request_publication

    out = []
    for photo_id, _version in ids["photos"]:
        try:
            request_publication(db.session, actor=Actor(ids["user"], "pr"),
                                school_id=ids["school"], photo_id=photo_id, channel=CHANNEL,
                                channel_note=None, now=utcnow())
            db.session.commit()
            out.append("won")
        except DomainError as err:
            db.session.rollback()
            out.append(type(err).__name__)
    return out


def _publish(ids: dict[str, Any], who: int) -> list[str]:
    from consentflow.extensions import db
    from consentflow.publish.tasks import publish_purpose

    out = []
    for purpose_id in ids["purposes"]:
        out.append(publish_purpose(purpose_id))  # the job commits its own work
        db.session.remove()
    return out


def _consent(ids: dict[str, Any], who: int) -> list[str]:
    from flask import current_app

    from consentflow.audit.service import Actor
    from consentflow.consent.service import record_consent
    from consentflow.extensions import db

    out = []
    for round_no in range(3):
        try:
            record_consent(
                db.session, actor=Actor(ids["user"], "admin"), person_id=ids["person"],
                school_year_id=ids["year"], form_id=ids["form"],
                decisions={p: (who + round_no) % 2 == 0 for p in ids["purposes"]},
                signer_kind="self", signer_guardian_id=None, signer_name=f"proces {who}",
                method="in_person", signed_at=ids["signed_at"], evidence=None,
                evidence_filename=None, storage_dir=current_app.config["STORAGE_DIR"],
                now=utcnow())
            db.session.commit()
            out.append("won")
        except DomainError as err:
            db.session.rollback()
            out.append(type(err).__name__)
    return out


def _import(ids: dict[str, Any], who: int) -> list[str]:
    from consentflow.audit.service import Actor
    from consentflow.extensions import db
    from consentflow.people.service import import_roster

    now = utcnow()
    report = import_roster(db.session, actor=Actor(ids["user"], "admin"),
                           school_id=ids["school"], data=Path(ids["roster"]).read_bytes(),
                           kind="student", today=now.date(), now=now)
    db.session.commit()
    return [f"{k}={v}" for k, v in sorted(report.counts.items())]


TASKS = {"approve": _approve, "request": _request, "publish": _publish, "consent": _consent,
         "import": _import}


def _serve(who: int, inbox: Any, barrier: Any, results: Any) -> None:
    """A process that runs races until told to stop (one app per test instance, kept)."""
    apps: dict[tuple[str, str], Any] = {}
    while (message := inbox.get()) is not None:
        task, database_url, instance, ids = message
        app = apps.get((database_url, instance))
        if app is None:
            app = apps[(database_url, instance)] = make_app(database_url, Path(instance))
        with app.app_context():
            from consentflow.extensions import db

            db.session.execute(select(1))  # connected before the start signal
            db.session.rollback()
            barrier.wait()
            try:
                results.put((who, "ok", TASKS[task](ids, who)))
            except Exception:  # noqa: BLE001 - reported to the test, which fails on it
                results.put((who, "error", traceback.format_exc()))
            finally:
                db.session.remove()


class Pool:
    """PROCESSES spawned processes, started once for this module (each import costs seconds)."""

    def __init__(self) -> None:
        self.barrier, self.results = SPAWN.Barrier(PROCESSES), SPAWN.Queue()
        self.inboxes = [SPAWN.Queue() for _ in range(PROCESSES)]
        self.procs = [SPAWN.Process(target=_serve, args=(who, inbox, self.barrier, self.results))
                      for who, inbox in enumerate(self.inboxes)]
        for proc in self.procs:
            proc.start()

    def race(self, app: Any, task: str, ids: dict[str, Any]) -> list[list[str]]:
        """Run ``task`` in every process, released at the same moment; their outcomes."""
        for inbox in self.inboxes:
            inbox.put((task, app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path, ids))
        outcomes = [self.results.get(timeout=300) for _ in self.procs]
        errors = [text for _who, status, text in outcomes if status == "error"]
        assert errors == [], "\n".join(errors)  # "database is locked" would be one of these
        return [result for _who, _status, result in sorted(outcomes)]

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for proc in self.procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()


@pytest.fixture(scope="module")
def pool() -> Any:
    processes = Pool()
    try:
        yield processes
    finally:
        processes.close()


def _events(db_session: Any, action: str) -> int:
    db_session.expire_all()
    return int(db_session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == action)))


# --- the races ---------------------------------------------------------------------------


def test_approve_request_and_publish_the_same_photos_from_several_processes(app, db_session, pool):
    from tests.services.test_publish_support import build_world, confirm_both, consent

    now = utcnow()
    w = build_world(db_session, app)
    w.year.starts_on = (now - timedelta(days=30)).date()
    w.year.ends_on = (now + timedelta(days=300)).date()
    consent(db_session, w, w.obama, {"social_media.photo"}, at=now - timedelta(days=2))
    confirm_both(db_session, w, at=now - timedelta(days=1))
    db_session.commit()
    photos = [(w.photo.id, w.photo.version)]
    ids = {"school": w.school.id, "user": w.user.id, "photos": photos}

    approvals = pool.race(app, "approve", ids)
    # Everyone saw the same version: one approval wins, the others are told it changed.
    assert sorted(r[0] for r in approvals) == ["ConflictError"] * (PROCESSES - 1) + ["won"]
    assert _events(db_session, "photo.approved") == 1

    requests = pool.race(app, "request", ids)
    assert sorted(r[0] for r in requests) == ["InvalidState"] * (PROCESSES - 1) + ["won"]
    assert _events(db_session, "photo.publication_requested") == 1

    pp = db_session.scalar(select(PhotoPurpose).where(PhotoPurpose.photo_id == w.photo.id,
                                                      PhotoPurpose.purpose == CHANNEL))
    published = pool.race(app, "publish", {"purposes": [pp.id]})
    assert sorted(r[0] for r in published).count("published") == 1
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Publication)) == 1
    assert _events(db_session, "photo.published") == 1
    db_session.refresh(pp)
    assert (pp.status, pp.publish_started_at) == ("approved", None)


def test_consent_for_the_same_person_from_several_processes_keeps_every_record(app, db_session, pool):
    from tests.services.test_publish_support import build_world

    w = build_world(db_session, app)
    now = utcnow()
    w.year.starts_on = (now - timedelta(days=30)).date()
    w.year.ends_on = (now + timedelta(days=300)).date()
    w.form.created_at = now - timedelta(days=30)
    admin = factories.user(db_session, school=w.school, roles=("admin",))
    db_session.commit()
    ids = {"user": admin.id, "person": w.obama.id, "year": w.year.id, "form": w.form.id,
           "purposes": list(w.form.purposes), "signed_at": now - timedelta(minutes=5)}

    outcomes = pool.race(app, "consent", ids)
    assert all(r == ["won"] * 3 for r in outcomes)
    db_session.expire_all()
    records = list(db_session.scalars(select(ConsentRecord).where(
        ConsentRecord.person_id == w.obama.id).order_by(ConsentRecord.id)))
    # No lost update: every record is there, in one unbroken chain (no two supersede one).
    assert len(records) == PROCESSES * 3
    assert [r.supersedes_id for r in records] == [None] + [r.id for r in records[:-1]]
    assert _events(db_session, "consent.record") == PROCESSES * 3


def test_the_same_roster_imported_by_several_processes_creates_everyone_once(app, db_session, pool):
    school = factories.school(db_session)
    admin = factories.user(db_session, school=school, roles=("admin",))
    db_session.commit()
    roster = DATA_DIR / "rosters" / "next_year_en_comma.csv"
    ids = {"school": school.id, "user": admin.id, "roster": str(roster)}

    reports = pool.race(app, "import", ids)
    db_session.expire_all()
    people = list(db_session.scalars(select(Person).where(Person.school_id == school.id)))
    numbers = [p.external_id for p in people]
    assert len(numbers) == len(set(numbers)) > 0
    # One winner per person: created once, whatever the others' reports say.
    assert _events(db_session, "person.create") == len(people)
    assert _events(db_session, "roster.import") == PROCESSES
    assert len(reports) == PROCESSES
