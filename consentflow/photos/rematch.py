"""Match again ("opnieuw herkennen"): apply newly enrolled portraits to photos already processed.

The one way to put photos back in the queue, used by ``flask photos
reprocess``, by the album page and by the reference portraits page. The
worker replaces the detections and matches them against today's reference
faces; every reviewer decision is kept (``review.rules.reattach_reviews``).
Photos that were approved or published are left alone: what was approved
is not silently re-decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.models import Photo
from consentflow.photos.service import photos_to_reprocess, reprocess_photo


def requeue_photos(session: Session, actor: Actor, photos: Sequence[Photo], *, now: datetime,
                   reason: str) -> list[int]:
    """Put photos back to "uploaded" for the worker; the caller commits, then enqueues the ids."""
    for photo in photos:
        reprocess_photo(session, actor, photo, now=now, reason=reason)
    return [photo.id for photo in photos]


def match_again(session: Session, actor: Actor, school_id: int, *, album_id: int | None = None,
                now: datetime) -> list[int]:
    """Queue the school's (or one album's) photos still in review for matching again."""
    photos = photos_to_reprocess(session, school_id, album_id=album_id)
    ids = requeue_photos(session, actor, photos, now=now, reason="match_again")
    record_event(session, actor=actor, action="photos.match_again",
                 object_type="album" if album_id is not None else "school",
                 object_id=album_id if album_id is not None else school_id,
                 school_id=school_id, details={"photos": len(ids)}, now=now)
    return ids
