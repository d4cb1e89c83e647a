"""A long video job keeps its claim while it beats; a silent one is taken over as before.

Real database (SQLite, and PostgreSQL with TEST_DATABASE_URL). The stale
rules of photo processing and background publication count from the last
sign of life (the claim or a later heartbeat), so a 20-minute video is not
re-claimed, retried and failed while its worker is still working on it.
"""

from __future__ import annotations

from datetime import timedelta

from consentflow.models import PhotoPurpose, utcnow
from consentflow.photos import processing
from consentflow.publish import background
from tests.services.test_publish_support import build_world

STALE = timedelta(minutes=15)


def test_a_beating_video_keeps_its_processing_claim_and_a_silent_one_is_taken_over(
        app, db_session):
    w = build_world(db_session, app)
    photo = w.photo
    photo.state, photo.media_type = "uploaded", "video/mp4"
    db_session.commit()
    start = utcnow()
    claim = processing.claim_photo(db_session, photo.id, now=start, stale_after=STALE)
    assert claim is not None
    db_session.commit()
    # 20 minutes later the worker is still analysing and has just said so.
    later = start + timedelta(minutes=20)
    processing.beat(db_session, claim, later - timedelta(seconds=5), {"progress_done": 100})
    db_session.commit()
    assert processing.claim_photo(db_session, photo.id, now=later, stale_after=STALE) is None
    assert processing.find_stale_photos(db_session, now=later, stale_after=STALE) == []
    assert not processing.fail_exhausted(db_session, photo.id, now=later, stale_after=STALE)
    # Silent for longer than the stale window: another worker may take it over.
    much_later = later + STALE + timedelta(seconds=1)
    assert processing.find_stale_photos(db_session, now=much_later, stale_after=STALE) == [photo.id]
    second = processing.claim_photo(db_session, photo.id, now=much_later, stale_after=STALE)
    assert second is not None and second.attempts == claim.attempts + 1
    db_session.commit()
    # The first worker's late beat no longer counts: the claim is not its own any more.
    processing.beat(db_session, claim, much_later, {"progress_done": 200})
    db_session.commit()
    db_session.refresh(photo)
    assert photo.progress_done == 100


def test_a_beating_publication_run_keeps_its_claim(app, db_session):
    w = build_world(db_session, app)
    pp = PhotoPurpose(photo_id=w.photo.id, purpose="website", status="publishing",
                      publish_requested_at=utcnow())
    db_session.add(pp)
    db_session.commit()
    start = utcnow()
    run = background.claim_run(db_session, pp.id, now=start, stale_after=STALE)
    assert run is not None
    db_session.commit()
    later = start + timedelta(minutes=20)
    background.beat(db_session, run, later - timedelta(seconds=5), {"render_done": 10})
    db_session.commit()
    assert background.claim_run(db_session, pp.id, now=later, stale_after=STALE) is None
    assert background.find_stale(db_session, now=later, stale_after=STALE) == []
    assert background.run_still_ours(db_session, run)
    much_later = later + STALE + timedelta(seconds=1)
    assert background.find_stale(db_session, now=much_later, stale_after=STALE) == [pp.id]
