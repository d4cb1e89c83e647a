"""Publication in the background: one publication per photo and purpose, whatever happens.

Real database (SQLite, and PostgreSQL with TEST_DATABASE_URL), real photo,
real engine; the queue runs in memory and jobs are run by ``run_jobs``.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from consentflow.errors import InvalidState
from consentflow.faces.matching import MatchThresholds
from consentflow.jobs import enqueue, get_queue
from consentflow.models import AuditEvent, PhotoPurpose, Publication, utcnow
from consentflow.publish.background import claim_run, request_publication
from consentflow.publish.service import approve_purpose
from consentflow.publish.tasks import stale_after
from tests.jobs.photo_helpers import run_jobs
from tests.services.test_publish_support import build_world, confirm_both, consent

pytestmark = [pytest.mark.slow]
SOCIAL = "social_media"


def _approved_world(db_session, app):
    w = build_world(db_session, app)
    now = utcnow()
    w.year.starts_on = (now - timedelta(days=30)).date()
    w.year.ends_on = (now + timedelta(days=300)).date()
    consent(db_session, w, w.obama, {"social_media.photo"}, at=now - timedelta(days=2))
    confirm_both(db_session, w, at=now - timedelta(days=1))
    pp = approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                         channel=SOCIAL, expected_version=None, now=now - timedelta(hours=1))
    assert pp.status == "approved"
    db_session.commit()
    return w, pp.id


def _request(db_session, w):
    return request_publication(db_session, actor=w.actor, school_id=w.school.id,
                               photo_id=w.photo.id, channel=SOCIAL, channel_note="web",
                               now=utcnow())


def _publications(db_session) -> list[Publication]:
    db_session.expire_all()
    return list(db_session.scalars(select(Publication)))


def test_request_then_worker_publishes_once_and_a_second_request_is_refused(app, db_session):
    w, pp_id = _approved_world(db_session, app)
    _request(db_session, w)
    db_session.commit()
    assert db_session.get(PhotoPurpose, pp_id).status == "publishing"
    assert _publications(db_session) == []  # the request does no face work
    # The same job twice (a retry, a double enqueue): the second finds nothing to claim.
    enqueue("publish_purpose", pp_id)
    enqueue("publish_purpose", pp_id)
    assert run_jobs(app) == 2
    (publication,) = _publications(db_session)
    pp = db_session.get(PhotoPurpose, pp_id)
    assert (pp.status, pp.publish_started_at, pp.refusal) == ("approved", None, None)
    assert publication.channel_note == "web"
    with pytest.raises(InvalidState, match="already published"):
        _request(db_session, w)
    db_session.rollback()
    assert len(_publications(db_session)) == 1


def test_two_requests_at_the_same_moment_claim_once(app, db_session):
    w, pp_id = _approved_world(db_session, app)
    school_id, photo_id, actor = w.school.id, w.photo.id, w.actor
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def request() -> None:
        from consentflow.extensions import db

        with app.app_context():
            barrier.wait()
            try:
                request_publication(db.session, actor=actor, school_id=school_id,
                                    photo_id=photo_id, channel=SOCIAL, channel_note=None,
                                    now=utcnow())
                db.session.commit()
                outcomes.append("claimed")
            except InvalidState:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["claimed", "refused"]
    assert db_session.scalar(select(AuditEvent).where(
        AuditEvent.action == "photo.publication_requested")) is not None
    run_jobs(app)
    enqueue("publish_purpose", pp_id)
    run_jobs(app)
    assert len(_publications(db_session)) == 1


def test_two_jobs_at_the_same_moment_publish_once(app, db_session):
    """Two workers run the same job at once: one claims the run, the other skips it."""
    w, pp_id = _approved_world(db_session, app)
    _request(db_session, w)
    db_session.commit()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def work() -> None:
        from consentflow.publish.tasks import publish_purpose

        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(publish_purpose(pp_id))
            except Exception as err:  # e.g. SQLite "database is locked": nothing recorded
                outcomes.append(type(err).__name__)
            finally:
                from consentflow.extensions import db

                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert "published" in outcomes, outcomes
    assert len(_publications(db_session)) == 1


def test_two_publishers_past_every_claim_still_leave_one_publication(app, db_session):
    """Both run the whole publication at once, as if every claim had failed: the index keeps one."""
    from consentflow.photos.storage import LocalStorage
    from consentflow.publish.service import publish_photo

    w, pp_id = _approved_world(db_session, app)
    school_id, photo_id, actor = w.school.id, w.photo.id, w.actor
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def publish() -> None:
        from consentflow.extensions import db

        with app.app_context():
            try:
                barrier.wait()
                publish_photo(db.session, actor=actor, school_id=school_id, photo_id=photo_id,
                              channel=SOCIAL, storage=LocalStorage(app.config["STORAGE_DIR"]),
                              now=utcnow(),
                              tolerance=MatchThresholds.from_config(app.config).loose)
                db.session.commit()
                outcomes.append("published")
            except Exception as err:  # IntegrityError, a conflict, or SQLite's lock
                db.session.rollback()
                outcomes.append(type(err).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert outcomes.count("published") == 1, outcomes
    assert len(_publications(db_session)) == 1


def test_the_database_refuses_a_second_live_publication(app, db_session):
    w, _ = _approved_world(db_session, app)
    fields = dict(school_id=w.school.id, photo_id=w.photo.id, purpose=SOCIAL,
                  derivative_sha256="0" * 64, snapshot=[])
    db_session.add(Publication(**fields))
    db_session.commit()
    db_session.add(Publication(**fields))
    with pytest.raises(IntegrityError):
        db_session.commit()
    db_session.rollback()
    # After a takedown the photo may be published again.
    db_session.execute(update(Publication).values(taken_down_at=utcnow()))
    db_session.add(Publication(**fields))
    db_session.commit()
    assert len(_publications(db_session)) == 2


def test_worker_killed_mid_publication_is_picked_up_again_once(app, db_session):
    w, pp_id = _approved_world(db_session, app)
    _request(db_session, w)
    db_session.commit()
    # A worker claims the run, commits the claim, and is killed before recording anything.
    run = claim_run(db_session, pp_id, now=utcnow(), stale_after=stale_after())
    db_session.commit()
    assert run is not None
    queue = get_queue(app)
    # While the claim is fresh, recovery leaves it alone and another run skips it.
    enqueue("recover_stale_publications")
    run_jobs(app)
    assert queue.pending_count() == 0
    enqueue("publish_purpose", pp_id)
    run_jobs(app)
    assert _publications(db_session) == []
    # The claim goes stale: recovery re-queues it and the new run publishes, once.
    db_session.execute(update(PhotoPurpose).where(PhotoPurpose.id == pp_id).values(
        publish_started_at=utcnow() - stale_after() - timedelta(seconds=5)))
    db_session.commit()
    enqueue("recover_stale_publications")
    assert run_jobs(app) == 2  # the recovery job and the publication it queued
    assert len(_publications(db_session)) == 1
    pp = db_session.get(PhotoPurpose, pp_id)
    assert pp.status == "approved"


def test_two_purposes_of_one_photo_are_published_one_after_the_other(app, db_session):
    # Side by side, each run would take the other's change to the photo for a
    # reviewer's and fail; the second waits for the first instead.
    from consentflow.publish.background import release_run
    from consentflow.publish.tasks import lease, publish_purpose

    w, social_id = _approved_world(db_session, app)
    web = approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                          channel="website", expected_version=None,
                          now=utcnow() - timedelta(minutes=30))
    assert web.status == "approved"
    db_session.commit()
    _request(db_session, w)
    request_publication(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                        channel="website", channel_note=None, now=utcnow())
    db_session.commit()
    run = claim_run(db_session, social_id, now=utcnow(), stale_after=lease())
    db_session.commit()
    assert run is not None  # a live worker is publishing the photo for social media
    assert publish_purpose(web.id) == "waiting"
    db_session.expire_all()
    assert (db_session.get(PhotoPurpose, web.id).status,
            db_session.get(PhotoPurpose, web.id).refusal) == ("publishing", None)
    release_run(db_session, run)  # that worker is done with its claim
    db_session.commit()
    get_queue(app).huey.flush()  # the delayed retry; run both now
    enqueue("publish_purpose", social_id)
    enqueue("publish_purpose", web.id)
    run_jobs(app)
    assert sorted(p.purpose for p in _publications(db_session)) == ["social_media", "website"]
