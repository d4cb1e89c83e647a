"""Background jobs of the photo pipeline (thin: ids in, services do the work).

``process_photo`` commits its claim before the face work on purpose (see
``processing``): the one exception to "commit once", so that a killed worker
leaves a ``processing`` photo that ``recover_stale_photos`` finds again.
While the face work runs a heartbeat renews the claim (its lease); once a
killed worker's lease expires, ``recover_stale_photos``, every minute in the
worker, re-queues the photo; the album
status page and ``flask photos reprocess --stale`` also trigger it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask import current_app

from consentflow.audit.service import Actor
from consentflow.extensions import db
from consentflow.faces.engine import EngineSettings
from consentflow.faces.matching import MatchThresholds, ReferenceIndex
from consentflow.jobs import enqueue, job
from consentflow.lease import Heartbeat, heartbeat_interval
from consentflow.models import Photo, utcnow
from consentflow.photos import processing, rematch, video
from consentflow.photos.crypto import cipher_from_config
from consentflow.photos.enrol import reference_index
from consentflow.photos.imaging import is_video_type
from consentflow.photos.storage import storage_from_config
from consentflow.video.analyse import VideoSettings
from consentflow.video.decode import VideoLimits

log = logging.getLogger("consentflow.photos")


def stale_after() -> timedelta:
    """How long an uploaded photo may wait in the queue before it is assumed lost (x6)."""
    return timedelta(seconds=int(current_app.config.get("PHOTO_STALE_SECONDS", 900)))


def lease() -> timedelta:
    """How long a processing photo's worker may go without renewing its claim."""
    return timedelta(seconds=int(current_app.config.get("PHOTO_LEASE_SECONDS", 60)))


def heartbeat(claim: processing.Claim) -> Heartbeat:
    """Renews the claim while the face work runs, so a live worker keeps its photo."""
    return Heartbeat(
        db.engine,
        lambda conn, current, new: processing.renew_lease(conn, claim.photo_id, claim.attempts,
                                                          current, new),
        claim.started_at, every=heartbeat_interval(lease()), clock=utcnow)


def engine_settings() -> EngineSettings:
    """Engine defaults, with any ``FACE_ENGINE`` overrides from the config."""
    return EngineSettings(**dict(current_app.config.get("FACE_ENGINE", {}) or {}))


def thresholds() -> MatchThresholds:
    """The configured match thresholds (their one definition: MATCH_* in the config)."""
    return MatchThresholds.from_config(current_app.config)


@job("process_photo", retries=3, retry_delay=10, retry_backoff=2.0)
def process_photo(photo_id: int) -> str:
    """Detect, match and record the faces of one photo; safe to run any number of times."""
    session = db.session
    now = utcnow()
    if processing.fail_exhausted(session, photo_id, now=now, stale_after=lease()):
        session.commit()
        return "failed"
    claim = processing.claim_photo(session, photo_id, now=now, stale_after=lease())
    session.commit()  # the claim must survive a crash of this worker
    if claim is None:
        if session.get(Photo, photo_id) is None:
            # Enqueued before the upload's commit became visible: Huey retries shortly.
            raise LookupError(f"photo {photo_id} is not (yet) in the database")
        return "skipped"
    photo = session.get(Photo, photo_id)
    assert photo is not None
    settings, limits = engine_settings(), thresholds()
    is_video = is_video_type(photo.media_type)
    beat = heartbeat(claim).start()
    try:
        try:
            if not photo.storage_key:
                raise processing.PermanentFailure("The original file is no longer stored.")
            storage = storage_from_config(current_app.config)
            try:
                # A video is read by FFmpeg from a file copy, never held in memory.
                data = b"" if is_video else storage.read(photo.storage_key)
                if not storage.exists(photo.storage_key):
                    raise FileNotFoundError(photo.storage_key)
            except FileNotFoundError as err:
                raise processing.PermanentFailure(
                    "The original file is missing from storage.") from err
            cipher = cipher_from_config(current_app.config)
            school = processing.school_of(session, photo_id)
            index = reference_index(session, school, cipher, now.date()) if school else None
            session.commit()  # no transaction stays open during the face work
            if is_video:
                video_result = _analyse_video(claim, photo.storage_key, index)
            else:
                results = processing.analyse(data, settings, index, limits)
        finally:
            # From here on the claim is checked with the last stamp the heartbeat wrote.
            claim = replace(claim, started_at=beat.stop())
    except processing.PermanentFailure as err:
        session.rollback()
        processing.record_failure(session, claim, str(err), final=True, now=utcnow())
        session.commit()
        return "failed"
    except Exception as err:
        session.rollback()
        final = claim.attempts >= processing.MAX_ATTEMPTS
        reason = f"{type(err).__name__}: {err}"
        processing.record_failure(session, claim, reason, final=final, now=utcnow())
        session.commit()
        if final:
            log.exception("photo %s failed for good", photo_id)
            return "failed"
        raise  # Huey retries with back-off
    if is_video:
        return _record_video(claim, video_result, storage=storage, cipher=cipher)
    recorded = processing.record_result(session, claim, results, cipher=cipher,
                                        settings=settings, thresholds=limits, now=utcnow())
    if not recorded:
        session.rollback()
        log.warning("photo %s: claim lost to another worker; nothing recorded", photo_id)
        return "lost"
    return "done"


def video_settings() -> VideoSettings:
    """The video engine's settings (its own detector tuning; see video.analyse)."""
    return VideoSettings()


def _analyse_video(claim: processing.Claim, key: str, index: ReferenceIndex | None) -> Any:
    """The video branch of ``process_photo``'s face work: the video engine on a file copy.

    Progress (frames done / expected) is written in short transactions of
    its own about once a second, so the album page can show a bar; the
    claim's lease is renewed by ``process_photo``'s heartbeat meanwhile.
    """
    session = db.session
    storage = storage_from_config(current_app.config)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < 1.0:
            return
        last[0] = now
        processing.report_progress(session, claim, {"progress_done": done, "progress_total": total or None})
        session.commit()

    with video.local_copy(storage, key) as path:
        return video.analyse_stored_video(path, video_settings(), VideoLimits(), index,
                                          thresholds(), progress)


def _record_video(claim: processing.Claim, result: Any, *, storage: Any, cipher: Any) -> str:
    """Record a video's tracks as its faces, if the claim is still ours."""
    session = db.session
    recorded = video.record_video_result(session, claim, result, storage=storage, cipher=cipher,
                                         settings=video_settings(), thresholds=thresholds(),
                                         now=utcnow())
    if not recorded:
        session.rollback()
        log.warning("video %s: claim lost to another worker; nothing recorded", claim.photo_id)
        return "lost"
    return "done"


@job("match_again", retries=1)
def match_again(school_id: int, album_id: int | None, actor_id: int | None,
                actor_label: str) -> int:
    """Put the school's (or album's) photos in review back in the queue, one job per photo.

    Runs in the worker so that a school of a thousand photos never waits on
    the web request; idempotent: a second run only re-queues photos again.
    """
    ids = rematch.match_again(db.session, Actor(actor_id, actor_label), school_id,
                              album_id=album_id, now=utcnow())
    db.session.commit()  # the worker must see "uploaded" before the jobs run
    for photo_id in ids:
        enqueue("process_photo", photo_id)
    log.info("match again: %d photo(s) of school %s queued", len(ids), school_id)
    return len(ids)


@job("recover_stale_photos", retries=0, every_minutes=1)
def recover_stale_photos() -> int:
    """Re-queue photos whose worker vanished (safe: a claim is taken at most once).

    Every minute: with the lease (PHOTO_LEASE_SECONDS, default 60 s) a photo
    of a killed worker is processed again within about two minutes.
    """
    return requeue_stale()


def requeue_stale(album_id: int | None = None) -> int:
    ids = processing.find_stale_photos(db.session, now=utcnow(), stale_after=stale_after(),
                                       lease=lease(), album_id=album_id)
    for photo_id in ids:
        enqueue("process_photo", photo_id)
    if ids:
        log.info("re-queued %d stale photo(s)", len(ids))
    return len(ids)
