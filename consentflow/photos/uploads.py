"""Receiving one uploaded file: shared by the web upload and the JSON API.

This is boundary code, not a service: each file is its own unit of work
(committed on its own, so one bad file loses nothing else), and the job is
enqueued only after the commit, so a worker never looks for a photo that is
not there yet. Face work never runs here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, BinaryIO

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor
from consentflow.jobs import enqueue
from consentflow.models import Album, utcnow
from consentflow.photos import service
from consentflow.photos.imaging import Limits, video_container
from consentflow.photos.storage import Storage


def upload_limits(config: Mapping[str, Any]) -> Limits:
    return Limits(int(config["UPLOAD_MAX_BYTES"]), int(config["UPLOAD_MAX_PIXELS"]),
                  int(config["UPLOAD_MAX_VIDEO_BYTES"]))


def read_upload(stream: BinaryIO, limits: Limits) -> bytes:
    """The file, read one byte past its limit: enough to refuse, never the whole oversized file.

    The first bytes choose the limit: a video container may be larger than an
    image (the service checks the container properly; this only sizes the read).
    """
    head = stream.read(16)
    limit = limits.max_video_bytes if video_container(head) else limits.max_bytes
    return bytes(head + stream.read(max(0, limit + 1 - len(head))))


def receive_upload(session: Session, storage: Storage, actor: Actor, album: Album,
                   filename: str, stream: BinaryIO, limits: Limits) -> service.UploadResult:
    """Store one file, commit it, and queue it for processing when it needs it.

    Concurrent uploads to one album can collide (the same file twice); the
    upload is idempotent (content-addressed, de-duplicated per album), so it
    is retried and answers "duplicate" at worst.
    """
    data = read_upload(stream, limits)
    for attempt in range(4):
        try:
            result = service.upload_photo(session, storage, actor, album, filename, data,
                                          limits=limits, now=utcnow())
            session.commit()
            break
        except (IntegrityError, OperationalError):
            session.rollback()
            if attempt == 3:
                raise
            time.sleep(0.05 * (attempt + 1))
    if result.needs_processing and result.photo_id is not None:
        enqueue("process_photo", result.photo_id)
    return result
