"""A long video job reports its progress under its claim, whatever its heartbeat did meanwhile.

Real database (SQLite, and PostgreSQL with TEST_DATABASE_URL). A video takes
minutes: the heartbeat (consentflow.lease, tested in tests/jobs/test_lease.py)
keeps the claim by moving its stamp forward, so progress is matched on the
claim's attempt, not its stamp. A worker whose claim was taken over writes
nothing any more.
"""

from __future__ import annotations

from datetime import timedelta

from consentflow.extensions import db
from consentflow.models import PhotoPurpose, utcnow
from consentflow.photos import processing
from consentflow.publish import background
from tests.services.test_publish_support import build_world

LEASE = timedelta(seconds=60)


def test_video_progress_follows_the_claim_through_its_lease_and_stops_when_taken_over(
        app, db_session):
    w = build_world(db_session, app)
    photo = w.photo
    photo.state, photo.media_type = "uploaded", "video/mp4"
    db_session.commit()
    start = utcnow()
    claim = processing.claim_photo(db_session, photo.id, now=start, stale_after=LEASE)
    assert claim is not None
    db_session.commit()
    # The heartbeat renews the lease twice; progress still reaches the row.
    stamp = start
    for beat in (1, 2):
        renewed = start + timedelta(seconds=15 * beat)
        with db.engine.begin() as conn:
            assert processing.renew_lease(conn, photo.id, claim.attempts, stamp, renewed)
        stamp = renewed
    processing.report_progress(db_session, claim, {"progress_done": 100, "progress_total": 400})
    db_session.commit()
    db_session.refresh(photo)
    assert (photo.progress_done, photo.progress_total) == (100, 400)
    assert processing.claim_photo(db_session, photo.id, now=stamp + LEASE / 2, stale_after=LEASE) is None
    # Its worker is killed: once the lease has expired another takes over, and the
    # first one's late progress no longer counts.
    much_later = stamp + LEASE + timedelta(seconds=1)
    second = processing.claim_photo(db_session, photo.id, now=much_later, stale_after=LEASE)
    assert second is not None and second.attempts == claim.attempts + 1
    db_session.commit()
    processing.report_progress(db_session, claim, {"progress_done": 200})
    db_session.commit()
    db_session.refresh(photo)
    assert photo.progress_done == 100


def test_publication_render_progress_belongs_to_the_live_run(app, db_session):
    w = build_world(db_session, app)
    pp = PhotoPurpose(photo_id=w.photo.id, purpose="website", status="publishing",
                      publish_requested_at=utcnow())
    db_session.add(pp)
    db_session.commit()
    start = utcnow()
    run = background.claim_run(db_session, pp.id, now=start, stale_after=LEASE)
    assert run is not None
    db_session.commit()
    background.report_progress(db_session, run, {"render_done": 10, "render_total": 50})
    db_session.commit()
    db_session.refresh(pp)
    assert (pp.render_done, pp.render_total) == (10, 50)
    much_later = start + LEASE + timedelta(seconds=1)
    second = background.claim_run(db_session, pp.id, now=much_later, stale_after=LEASE)
    assert second is not None
    db_session.commit()
    background.report_progress(db_session, run, {"render_done": 40})
    db_session.commit()
    db_session.refresh(pp)
    assert pp.render_done == 10
