"""Receiving one uploaded file: shared by the web upload and the JSON API.

This is boundary code, not a service: each file is its own unit of work
(committed on its own, so one bad file loses nothing else), and the job is
enqueued only after the commit, so a worker never looks for a photo that is
not there yet. Face work never runs here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import IO, Any, BinaryIO, cast

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor
from consentflow.jobs import enqueue
from consentflow.models import Album, utcnow
from consentflow.photos import service
from consentflow.photos.imaging import Limits, read_at_most, video_container
from consentflow.photos.storage import Storage

log = logging.getLogger(__name__)


def upload_limits(config: Mapping[str, Any]) -> Limits:
    return Limits(int(config["UPLOAD_MAX_BYTES"]), int(config["UPLOAD_MAX_PIXELS"]),
                  int(config["UPLOAD_MAX_VIDEO_BYTES"]), int(config["UPLOAD_MAX_SIDE"]),
                  float(config["UPLOAD_MAX_ASPECT"]))


def read_upload(stream: IO[bytes], limits: Limits) -> bytes | BinaryIO:
    """What the service checks: an image's bytes, or a video's file.

    An image is read one byte past its limit: enough to refuse, never the
    whole oversized file. A video stays in the file the upload was spooled
    to (Werkzeug keeps every larger upload on disk): a school's 500 MB
    recording must not sit in a web process's memory. A stream that cannot
    seek is read like an image, up to the video limit.
    """
    head = stream.read(16)
    video = video_container(head) is not None
    if video and stream.seekable():
        stream.seek(0)
        return cast(BinaryIO, stream)
    limit = limits.max_video_bytes if video else limits.max_bytes
    return head + read_at_most(stream, limit + 1 - len(head))


def receive_upload(session: Session, storage: Storage, actor: Actor, album: Album,
                   filename: str, stream: IO[bytes], limits: Limits,
                   roles: Iterable[str] | None = None) -> service.UploadResult:
    """Store one file, commit it, and queue it for processing when it needs it.

    Concurrent uploads to one album can collide (the same file twice); the
    upload is idempotent (content-addressed, de-duplicated per album), so it
    is retried and answers "duplicate" at worst. Anything else that fails
    for this file (storage, a bug) is logged and becomes this file's
    rejection: the other files of the batch are still received.
    """
    album_id = album.id
    try:
        result = _store(session, storage, actor, album, filename, stream, limits, roles)
    except Exception:  # noqa: BLE001 - one file's failure must not cost the batch
        session.rollback()
        log.exception("upload of %r to album %s failed", filename, album_id)
        return service.UploadResult(service.clean_name(filename), "rejected",
                                    code="not_stored", message=service.NOT_STORED)
    if result.needs_processing and result.photo_id is not None:
        enqueue("process_photo", result.photo_id)
    return result


def _store(session: Session, storage: Storage, actor: Actor, album: Album, filename: str,
           stream: IO[bytes], limits: Limits,
           roles: Iterable[str] | None) -> service.UploadResult:
    data = read_upload(stream, limits)
    for attempt in range(4):
        try:
            result = service.upload_photo(session, storage, actor, album, filename, data,
                                          limits=limits, now=utcnow(), roles=roles)
            session.commit()
            return result
        except (IntegrityError, OperationalError):
            session.rollback()
            if attempt == 3:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")
