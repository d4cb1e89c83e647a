"""Background job of publication (thin: an id in, the services do the work).

Like ``process_photo`` it commits its claim before the face work, so a
killed worker leaves a visible, stale claim that ``recover_stale_publications``
re-queues; the run that records re-checks its claim first and the database
refuses a second live publication, so there is never more than one.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from consentflow.audit.service import Actor
from consentflow.errors import DomainError
from consentflow.extensions import db
from consentflow.jobs import enqueue, enqueue_in, job
from consentflow.lease import Heartbeat, heartbeat_interval
from consentflow.models import Photo, PhotoPurpose, User, utcnow
from consentflow.photos.crypto import FaceKeyError, cipher_from_config
from consentflow.photos.imaging import is_video_type
from consentflow.photos.storage import storage_from_config
from consentflow.photos.tasks import engine_settings, thresholds, video_settings
from consentflow.photos.video import local_copy
from consentflow.publish import background
from consentflow.publish import video as publish_video
from consentflow.publish.service import ClaimLost, PublicationRefused, publish_photo
from consentflow.video.decode import VideoRejected

log = logging.getLogger("consentflow.publish")

# A purpose whose photo is being published for another purpose waits this long, then tries again.
SIBLING_WAIT_SECONDS = 2


def stale_after() -> timedelta:
    """How long a requested publication may wait unstarted before it is assumed lost."""
    return timedelta(seconds=int(current_app.config.get("PUBLISH_STALE_SECONDS", 600)))


def lease() -> timedelta:
    """How long a publishing worker may go without renewing its claim."""
    return timedelta(seconds=int(current_app.config.get("PUBLISH_LEASE_SECONDS", 60)))


def _cipher() -> object | None:
    """The face key, or None when it is missing (publication then refuses, never skips)."""
    try:
        return cipher_from_config(current_app.config)
    except (FaceKeyError, OSError):
        return None


def _actor(pp: PhotoPurpose) -> Actor:
    user = db.session.get(User, pp.publish_requested_by_id) if pp.publish_requested_by_id else None
    return Actor(user.id, user.email) if user else Actor.system("publish")


@job("publish_purpose", retries=2, retry_delay=10, retry_backoff=2.0)
def publish_purpose(purpose_id: int) -> str:
    """Publish one claimed photo purpose; safe to run any number of times."""
    session = db.session
    run = background.claim_run(session, purpose_id, now=utcnow(), stale_after=lease())
    session.commit()  # the claim must survive a crash of this worker
    if run is None:
        if background.sibling_running(session, purpose_id, now=utcnow(), lease=lease()):
            # Another purpose of this photo is being published: try again shortly.
            session.rollback()
            enqueue_in(SIBLING_WAIT_SECONDS, "publish_purpose", purpose_id)
            return "waiting"
        return "skipped"
    pp = session.get(PhotoPurpose, purpose_id)
    assert pp is not None
    actor = _actor(pp)
    photo = session.get(Photo, pp.photo_id)
    assert photo is not None
    claimed: background.Run = run
    beat = Heartbeat(db.engine, lambda conn, current, new: background.renew_lease(
        conn, claimed, current, new), run.started_at, every=heartbeat_interval(lease()),
        clock=utcnow).start()

    def still_ours() -> bool:
        # The heartbeat stops before the final check: the run records with the
        # stamp it last wrote, or not at all.
        return background.run_still_ours(session, replace(claimed, started_at=beat.stop()))

    try:
        try:
            if is_video_type(photo.media_type):
                _publish_video(claimed, pp, photo, actor, still_ours)
            else:
                publish_photo(
                    session, actor=actor, school_id=photo.school_id, photo_id=photo.id,
                    channel=pp.purpose, storage=storage_from_config(current_app.config), now=utcnow(),
                    cipher=_cipher(), settings=engine_settings(), channel_note=pp.publish_note,
                    tolerance=thresholds().loose, still_ours=still_ours,
                )
        finally:
            run = replace(claimed, started_at=beat.stop())
        session.commit()
    except PublicationRefused:
        session.commit()  # keep the refusal and the faces that caused it
        return "refused"
    except ClaimLost:
        session.rollback()
        log.warning("publication of purpose %s: claim lost to another worker", purpose_id)
        return "lost"
    except IntegrityError:
        session.rollback()  # uq_publication_live: another run published it first
        log.warning("publication of purpose %s: already published by another run", purpose_id)
        return "lost"
    except (DomainError, VideoRejected) as err:
        session.rollback()
        background.record_failure(session, purpose_id, err.message, utcnow(), actor)
        session.commit()
        return "failed"
    except Exception as err:
        session.rollback()
        if run.attempts >= background.MAX_RUNS:
            background.record_failure(session, purpose_id, f"{type(err).__name__}: {err}",
                                      utcnow(), actor)
            session.commit()
            log.exception("publication of purpose %s failed for good", purpose_id)
            return "failed"
        background.release_run(session, run)  # Huey's retry may take it again at once
        session.commit()
        raise
    return "published"


def _publish_video(run: background.Run, pp: PhotoPurpose, photo: Photo, actor: Actor,
                   still_ours: Callable[[], bool]) -> None:
    """The video branch: plan in a transaction, render and check outside one, then record.

    Progress (frames rendered and checked / to do) is written in short
    transactions of its own about once a second, for the page's bar.
    """
    session = db.session
    storage = storage_from_config(current_app.config)
    school_id, note = photo.school_id, pp.publish_note
    plan = publish_video.prepare_video(session, actor=actor, school_id=school_id,
                                       photo_id=photo.id, channel=pp.purpose, storage=storage,
                                       now=utcnow(), cipher=_cipher())
    session.commit()  # nothing was written; no transaction stays open while FFmpeg works
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < 1.0:
            return
        last[0] = now
        background.report_progress(session, run, {"render_done": min(done, total), "render_total": total})
        session.commit()

    with local_copy(storage, plan.storage_key) as source, \
            tempfile.TemporaryDirectory(prefix="cf-render-") as folder:
        result = publish_video.render_and_check(
            plan, source, os.path.join(folder, "published.mp4"), video_settings(),
            thresholds().loose, progress=progress)
        publish_video.record_video_publication(
            session, actor=actor, school_id=school_id, plan=plan, result=result, storage=storage,
            now=utcnow(), channel_note=note, still_ours=still_ours)


@job("render_video_preview", retries=1, retry_delay=10)
def render_video_preview(photo_id: int, channel: str) -> str:
    """Render the reviewer's redacted preview of a video for one channel (idempotent by key)."""
    session = db.session
    photo = session.get(Photo, photo_id)
    if photo is None:
        return "skipped"
    storage = storage_from_config(current_app.config)
    pp_id = session.scalar(select(PhotoPurpose.id).where(PhotoPurpose.photo_id == photo_id,
                                                         PhotoPurpose.purpose == channel))
    try:
        plan = publish_video.plan_preview(session, school_id=photo.school_id, photo_id=photo_id,
                                          channel=channel, storage=storage, now=utcnow())
    except DomainError as err:
        # Nothing to render (e.g. the original is gone): the page offers the button again.
        session.rollback()
        _clear_render_progress(pp_id)
        log.warning("preview of video %s: %s", photo_id, err.message)
        return "refused"
    session.commit()  # nothing was written; nothing stays open while FFmpeg works
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if pp_id is None or now - last[0] < 1.0:
            return
        last[0] = now
        session.execute(update(PhotoPurpose).where(PhotoPurpose.id == pp_id)
                        .values(render_done=min(done, total), render_total=total)
                        .execution_options(synchronize_session=False))
        session.commit()

    try:
        publish_video.render_preview(plan, storage, progress)
    finally:
        # Done or failed: the page stops showing a preview "being made".
        session.rollback()
        _clear_render_progress(pp_id)
    return "done"


def _clear_render_progress(purpose_id: int | None) -> None:
    db.session.execute(update(PhotoPurpose).where(PhotoPurpose.id == purpose_id)
                       .values(render_done=None, render_total=None)
                       .execution_options(synchronize_session=False))
    db.session.commit()


@job("recover_stale_publications", retries=0, every_minutes=1)
def recover_stale_publications() -> int:
    """Re-queue publications whose worker vanished (safe: a run is claimed at most once).

    Every minute: with the lease (PUBLISH_LEASE_SECONDS, default 60 s) a killed
    worker's publication is taken up again within about two minutes.
    """
    ids = background.find_stale(db.session, now=utcnow(), stale_after=stale_after(),
                                lease=lease())
    for purpose_id in ids:
        enqueue("publish_purpose", purpose_id)
    if ids:
        log.info("re-queued %d stale publication(s)", len(ids))
    return len(ids)
