"""Publication in the background: the request claims, a worker publishes, the page polls.

Exactly one publication per photo and purpose, enforced by the database:

1. ``request_publication`` moves the purpose approved -> publishing with one
   conditional UPDATE; of two requests at the same moment, one finds the
   row no longer approved and is told so. The request commits and enqueues.
2. ``claim_run`` (worker) stamps ``publish_started_at`` by a conditional
   UPDATE on a publishing purpose that has no live run (none, or a stale
   one from a killed worker), and no other purpose of the same photo
   running, and the worker commits at once.
3. ``publish_photo`` renders and checks outside any write, then re-checks
   the claim (``run_still_ours``) before recording; the unique partial index
   ``uq_publication_live`` refuses a second live publication whatever happens.

While a run renders and checks, a heartbeat (``consentflow.lease``) renews
``publish_started_at`` through ``renew_lease``, so the stamp is a lease that
expires only when the worker is gone. ``find_stale`` lists purposes whose
lease expired (or whose job was lost); the periodic sweeper re-queues them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, aliased

from consentflow.audit.service import Actor, record_event
from consentflow.errors import InvalidState
from consentflow.locking import serialise
from consentflow.models import Photo, PhotoPurpose
from consentflow.models.base import rows_changed
from consentflow.publish.service import (
    _channel,
    _check_renderable,
    live_publication,
    release_claim,
)
from consentflow.review.service import get_photo, purpose_row

MAX_RUNS = 3


@dataclass(frozen=True)
class Run:
    purpose_id: int
    attempts: int
    started_at: datetime


def request_publication(session: Session, *, actor: Actor, school_id: int, photo_id: int,
                        channel: str, channel_note: str | None, now: datetime) -> PhotoPurpose:
    """Claim an approved purpose for publication (approved -> publishing), once."""
    channel = _channel(channel)
    photo = get_photo(session, school_id, photo_id)
    _check_renderable(photo)
    pp = purpose_row(session, photo.id, channel)
    if live_publication(session, photo.id, channel) is not None:
        raise InvalidState("This photo is already published for this purpose.")
    if pp.status == "publishing":
        raise InvalidState("This photo is already being published for this purpose.")
    if pp.status != "approved" or photo.state not in {"approved", "published"}:
        raise InvalidState("Approve the photo for this purpose before publishing it.")
    if photo.storage_key is None:
        raise InvalidState("The original of this photo no longer exists.")
    session.flush()
    claimed = session.execute(
        update(PhotoPurpose)
        .where(PhotoPurpose.id == pp.id, PhotoPurpose.status == "approved")
        .values(status="publishing", publish_requested_at=now, publish_requested_by_id=actor.id,
                publish_note=(channel_note or "").strip() or None, publish_started_at=None,
                publish_attempts=0, refusal=None)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(claimed) != 1:
        raise InvalidState("This photo is already being published for this purpose.")
    session.refresh(pp)
    record_event(session, actor=actor, action="photo.publication_requested", object_type="photo",
                 object_id=photo.id, school_id=school_id, now=now, details={"purpose": channel})
    return pp


def claim_run(session: Session, purpose_id: int, *, now: datetime,
              stale_after: timedelta) -> Run | None:
    """Take a publishing purpose for this worker, or None (done, or a live worker has it)."""
    cutoff = now - stale_after
    photo_id = session.scalar(select(PhotoPurpose.photo_id).where(PhotoPurpose.id == purpose_id))
    if photo_id is None:
        return None
    # One run per photo at a time: two purposes of one photo published side by
    # side would each see the other's change to the photo as a reviewer's and
    # fail (and need approving again). The photo's row lock makes the check
    # and the claim one step for concurrent claimers of sibling purposes; the
    # purpose is locked first, the order in which a run records (purpose, then
    # photo), so a claim and a recording never wait for each other in a circle.
    serialise(session, PhotoPurpose, purpose_id)
    serialise(session, Photo, photo_id)
    sibling = aliased(PhotoPurpose)
    sibling_running = exists().where(
        sibling.photo_id == photo_id, sibling.id != purpose_id, sibling.status == "publishing",
        sibling.publish_started_at.is_not(None), sibling.publish_started_at >= cutoff)
    result = session.execute(
        update(PhotoPurpose)
        .where(PhotoPurpose.id == purpose_id, PhotoPurpose.status == "publishing",
               or_(PhotoPurpose.publish_started_at.is_(None),
                   PhotoPurpose.publish_started_at < cutoff),
               ~sibling_running)
        .values(publish_started_at=now, publish_attempts=PhotoPurpose.publish_attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(result) != 1:
        return None
    attempts = session.scalar(select(PhotoPurpose.publish_attempts)
                              .where(PhotoPurpose.id == purpose_id))
    return Run(purpose_id, int(attempts or 0), now)


def sibling_running(session: Session, purpose_id: int, *, now: datetime,
                    lease: timedelta) -> bool:
    """Is another purpose of this purpose's photo being published by a live worker?"""
    sibling = aliased(PhotoPurpose)
    return bool(session.scalar(
        select(func.count()).select_from(PhotoPurpose)
        .join(sibling, and_(sibling.photo_id == PhotoPurpose.photo_id,
                            sibling.id != PhotoPurpose.id))
        .where(PhotoPurpose.id == purpose_id, PhotoPurpose.status == "publishing",
               sibling.status == "publishing", sibling.publish_started_at.is_not(None),
               sibling.publish_started_at >= now - lease)))


def report_progress(session: Session, run: Run, values: dict[str, Any]) -> None:
    """A long run (a video) writes its progress while it holds its claim (caller commits).

    Matched on the run's attempt, not its stamp, which the heartbeat moves forward.
    """
    session.execute(
        update(PhotoPurpose)
        .where(PhotoPurpose.id == run.purpose_id, PhotoPurpose.status == "publishing",
               PhotoPurpose.publish_attempts == run.attempts)
        .values(**values)
        .execution_options(synchronize_session=False))


def run_still_ours(session: Session, run: Run) -> bool:
    """Re-check the claim by a conditional UPDATE (which also locks the row until commit)."""
    result = session.execute(
        update(PhotoPurpose)
        .where(PhotoPurpose.id == run.purpose_id, PhotoPurpose.status == "publishing",
               PhotoPurpose.publish_attempts == run.attempts,
               PhotoPurpose.publish_started_at == run.started_at)
        .values(publish_started_at=run.started_at)
        .execution_options(synchronize_session=False)
    )
    return rows_changed(result) == 1


def renew_lease(conn: Connection, run: Run, current: datetime, new: datetime) -> bool:
    """Move a live run's stamp (its lease) forward; False if the run is no longer ours."""
    result = conn.execute(
        update(PhotoPurpose)
        .where(PhotoPurpose.id == run.purpose_id, PhotoPurpose.status == "publishing",
               PhotoPurpose.publish_attempts == run.attempts,
               PhotoPurpose.publish_started_at == current)
        .values(publish_started_at=new)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release_run(session: Session, run: Run) -> None:
    """Give a run's claim up (still publishing) so that a retry can claim it at once."""
    session.execute(
        update(PhotoPurpose)
        .where(PhotoPurpose.id == run.purpose_id, PhotoPurpose.status == "publishing",
               PhotoPurpose.publish_started_at == run.started_at)
        .values(publish_started_at=None)
        .execution_options(synchronize_session=False)
    )


def record_failure(session: Session, purpose_id: int, message: str, now: datetime,
                   actor: Actor) -> None:
    """A run that could not publish (not a refusal): approve again to retry; the reason is kept.

    Deny by default: whatever stopped it (a reviewer's change during the
    run, a crash) may have changed what would be published.
    """
    pp = session.get(PhotoPurpose, purpose_id)
    if pp is None or pp.status != "publishing":
        return
    photo = session.get(Photo, pp.photo_id)
    release_claim(pp)
    pp.status, pp.decided_at, pp.decided_by_id = "pending", now, None
    pp.refusal = {"code": "failed", "message": message, "leaks": []}
    session.flush()
    record_event(session, actor=actor, action="photo.publication_failed", object_type="photo",
                 object_id=pp.photo_id, school_id=photo.school_id if photo else None, now=now,
                 details={"purpose": pp.purpose, "reason": message})


def find_stale(session: Session, *, now: datetime, stale_after: timedelta,
               lease: timedelta | None = None) -> list[int]:
    """Publishing purposes whose worker vanished (lease expired), or whose job never ran.

    ``lease`` (defaults to ``stale_after``) is how long a started run may go
    without its heartbeat; ``stale_after`` how long a request may wait unstarted.
    """
    cutoff = now - stale_after
    expired = now - (lease if lease is not None else stale_after)
    return list(session.scalars(
        select(PhotoPurpose.id).where(
            PhotoPurpose.status == "publishing",
            or_(PhotoPurpose.publish_started_at < expired,
                and_(PhotoPurpose.publish_started_at.is_(None),
                     PhotoPurpose.publish_requested_at < cutoff)))
        .order_by(PhotoPurpose.id)
    ))


def publication_status(session: Session, pp: PhotoPurpose) -> dict[str, Any]:
    """Where a purpose's publication stands, for the polling page (codes, no wording)."""
    live = live_publication(session, pp.photo_id, pp.purpose)
    if pp.status == "publishing":
        state = "running" if pp.publish_started_at else "queued"
    elif live is not None:
        state = "published"
    elif pp.refusal:
        state = "refused" if pp.refusal.get("code") != "failed" else "failed"
    else:
        state = "idle"
    return {"state": state, "publication_id": live.id if live else None,
            "refusal": pp.refusal if state in ("refused", "failed") else None}
