"""The lease: a live worker's long job is never taken over; a dead worker's is, after the lease.

Real database, real photo, real detection; the worker's heartbeat thread
renews the claim on its own connection while the face work runs.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from consentflow.extensions import db
from consentflow.jobs import get_queue
from consentflow.models import AuditEvent, Photo, utcnow
from consentflow.photos import processing
from tests import factories
from tests.jobs.photo_helpers import face_bytes, photo, run_jobs, upload

pytestmark = pytest.mark.slow

LEASE = 1


def test_a_job_longer_than_its_lease_keeps_its_photo(app, db_session, monkeypatch) -> None:
    app.config["PHOTO_LEASE_SECONDS"] = LEASE
    school = factories.school(db_session)
    album = factories.album(db_session, school=school)
    db_session.commit()
    [result] = upload(app, db_session, album, [("two.jpg", face_bytes("two_people.jpg"))])
    real_analyse = processing.analyse
    attempts: list[object] = []

    def slow_analyse(*args, **kwargs):
        found = real_analyse(*args, **kwargs)
        # The job runs four leases long; meanwhile others try to take the photo over.
        for _ in range(4):
            time.sleep(LEASE)
            with db.engine.connect() as conn:
                from sqlalchemy.orm import Session

                with Session(bind=conn) as other:
                    lease = timedelta(seconds=LEASE)
                    attempts.append(processing.claim_photo(other, result.photo_id,
                                                           now=utcnow(), stale_after=lease))
                    attempts.append(processing.find_stale_photos(
                        other, now=utcnow(), stale_after=lease, lease=lease))
                    other.commit()
        return found

    monkeypatch.setattr(processing, "analyse", slow_analyse)
    assert run_jobs(app) == 1
    # Never taken over, never listed as stale: the heartbeat kept the lease fresh.
    assert attempts == [None, []] * 4
    assert photo(db_session, result.photo_id).state == "needs_review"
    assert db_session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "photo.processed")) == 1
    assert get_queue(app).pending_count() == 0


def test_a_claim_nobody_renews_is_taken_over_after_the_lease(app, db_session) -> None:
    app.config["PHOTO_LEASE_SECONDS"] = LEASE
    school = factories.school(db_session)
    album = factories.album(db_session, school=school)
    db_session.commit()
    [result] = upload(app, db_session, album, [("two.jpg", face_bytes("two_people.jpg"))])
    get_queue(app).huey.flush()  # the worker that took the job was killed
    lease = timedelta(seconds=LEASE)
    claim = processing.claim_photo(db_session, result.photo_id, now=utcnow(), stale_after=lease)
    db_session.commit()
    assert claim is not None
    # While the lease runs the photo is the dead worker's; after it, the sweeper's.
    assert processing.claim_photo(db_session, result.photo_id, now=claim.started_at,
                                  stale_after=lease) is None
    later = claim.started_at + lease * 2
    assert processing.find_stale_photos(db_session, now=later, stale_after=lease,
                                        lease=lease) == [result.photo_id]
    taken = processing.claim_photo(db_session, result.photo_id, now=later, stale_after=lease)
    assert taken is not None and taken.attempts == claim.attempts + 1
    db_session.commit()
    # The dead worker's claim can record nothing any more.
    assert not processing.renew_lease(db_session.connection(), result.photo_id, claim.attempts,
                                      claim.started_at, later)
    db_session.rollback()
    assert db_session.get(Photo, result.photo_id).state == "processing"
