"""Albums and uploads: the use cases behind the upload pages, the CLI and the API.

Services take the session, the actor, the school and ``now``; they flush and
never commit. Uploads never run face work: they validate, store the
original and leave the photo ``uploaded``; the boundary commits and then
enqueues ``process_photo`` (see ``consentflow.photos.tasks``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.errors import InvalidInput, InvalidState, NotFound
from consentflow.models import Album, Face, Photo
from consentflow.models.consent import CHANNELS
from consentflow.photos.imaging import (
    ImageRejected,
    Limits,
    ValidatedImage,
    ValidatedVideo,
    read_at_most,
    validate_image,
    validate_video,
    video_container,
)
from consentflow.photos.storage import Storage

DONE_STATES = ("needs_review", "approved", "published", "rejected", "withdrawn")
REPROCESSABLE = ("uploaded", "processing", "failed", "needs_review")
# A file that passed no check because storing it failed (disk, database): try again.
NOT_STORED = "The file could not be stored; please try again."


def create_album(
    session: Session, actor: Actor, school_id: int, *, title: str, event_date: date,
    description: str = "", maker: str = "", purposes: Iterable[str] = (), now: datetime,
) -> Album:
    """An album needs a title and date; its intended channels must be known channels."""
    title = (title or "").strip()
    if not title:
        raise InvalidInput("An album needs a title.")
    chosen = list(dict.fromkeys(purposes))
    unknown = [p for p in chosen if p not in CHANNELS]
    if unknown:
        raise InvalidInput("Unknown channel(s): %(list)s.", list=", ".join(unknown))
    album = Album(school_id=school_id, title=title[:200], event_date=event_date,
                  description=(description or "").strip(), maker=(maker or "").strip()[:200],
                  purposes=chosen, created_by_id=actor.id, created_at=now)
    session.add(album)
    session.flush()
    record_event(session, actor=actor, action="album.create", object_type="album",
                 object_id=album.id, school_id=school_id, now=now,
                 details={"purposes": chosen, "event_date": event_date.isoformat()},
                 personal={"title": album.title, "maker": album.maker})
    return album


def may_see_album(album: Album, user_id: int | None, roles: set[str]) -> bool:
    """PR and admin see every album of the school; a teacher only the albums they created."""
    if roles & {"pr", "admin"}:
        return True
    return "teacher" in roles and user_id is not None and album.created_by_id == user_id


def visible_albums(session: Session, school_id: int, user_id: int | None,
                   roles: set[str]) -> list[Album]:
    stmt = select(Album).where(Album.school_id == school_id)
    if not roles & {"pr", "admin"}:
        if "teacher" not in roles or user_id is None:
            return []
        stmt = stmt.where(Album.created_by_id == user_id)
    return list(session.scalars(stmt.order_by(Album.event_date.desc(), Album.id.desc())))


@dataclass(frozen=True)
class UploadResult:
    """The outcome for one file; ``status`` is accepted, duplicate or rejected."""

    filename: str
    status: str
    photo_id: int | None = None
    code: str = ""
    message: str = ""
    # Other albums of the school that already hold the same image.
    also_in_albums: tuple[int, ...] = ()
    # A video is queued like a photo; its faces are followed through time.
    video: bool = False

    @property
    def needs_processing(self) -> bool:
        """True if the caller must enqueue ``process_photo`` after committing."""
        return self.status == "accepted"

    @property
    def ok(self) -> bool:
        return self.status in ("accepted", "duplicate")

    def as_dict(self) -> dict[str, object]:
        return {"filename": self.filename, "status": self.status, "photo_id": self.photo_id,
                "code": self.code, "message": self.message,
                "also_in_albums": list(self.also_in_albums), "video": self.video}


def clean_name(filename: str) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return "".join(ch for ch in name if ch.isprintable())[:255] or "upload"


def upload_photo(
    session: Session, storage: Storage, actor: Actor, album: Album, filename: str,
    data: bytes | BinaryIO, *, limits: Limits = Limits(), now: datetime,
    roles: Iterable[str] | None = None,
) -> UploadResult:
    """Store a decoded-and-validated image once per album; anything else is refused with a reason.

    ``also_in_albums`` names only the other albums the uploader may open
    (``roles`` are theirs; ``None`` is the system: CLI, demo).

    A video (recognised by its container, not its name) is stored and
    queued the same way; the worker follows its faces through time. It may
    come as a seekable file (see ``uploads.read_upload``): it is checked and
    stored from there, never read into memory whole.
    """
    name = clean_name(filename)
    info: ValidatedImage | ValidatedVideo
    try:
        if isinstance(data, bytes):
            head = data[:16]
        else:
            data.seek(0)
            head = data.read(16)
            data.seek(0)
        if video_container(head) is not None:
            info = validate_video(data, limits)
        else:
            if not isinstance(data, bytes):  # an image is decoded from bytes, up to its limit
                data = read_at_most(data, limits.max_bytes + 1)
            info = validate_image(data, limits)
    except ImageRejected as err:
        return UploadResult(name, "rejected", code=err.code, message=err.message)
    video = isinstance(info, ValidatedVideo)
    width, height = (0, 0) if isinstance(info, ValidatedVideo) else (info.width, info.height)
    existing = session.scalar(
        select(Photo).where(Photo.album_id == album.id, Photo.sha256 == info.sha256))
    if existing is not None:
        return UploadResult(name, "duplicate", photo_id=existing.id, code="duplicate",
                            message="This image is already in the album.")
    elsewhere = tuple(sorted(session.scalars(
        select(Photo.album_id).where(Photo.school_id == album.school_id,
                                     Photo.sha256 == info.sha256,
                                     Photo.album_id != album.id).distinct())))
    visible = elsewhere if roles is None else tuple(
        other.id for other in session.scalars(select(Album).where(Album.id.in_(elsewhere)))
        if may_see_album(other, actor.id, set(roles)))
    if isinstance(data, bytes):
        key = storage.put(data)
    else:
        key = storage.put_file(data, info.sha256)
    photo = Photo(school_id=album.school_id, album_id=album.id, sha256=info.sha256,
                  storage_key=key, original_filename=name, media_type=info.media_type,
                  width=width, height=height, byte_size=info.byte_size,
                  state="uploaded",
                  uploaded_by_id=actor.id, uploaded_at=now)
    # Two simultaneous uploads of one image: the unique (album, sha256) makes
    # the second flush fail; the boundary rolls back and retries, and the
    # retry finds the photo and answers "duplicate". (No savepoint here: with
    # pysqlite a SAVEPOINT that opens the transaction commits on release.)
    session.add(photo)
    session.flush()
    record_event(session, actor=actor, action="photo.upload", object_type="photo",
                 object_id=photo.id, school_id=album.school_id, now=now,
                 details={"album_id": album.id, "sha256": info.sha256, "format": info.format,
                          "width": width, "height": height, "video": video,
                          "also_in_albums": list(elsewhere)},
                 personal={"filename": name})
    message = "Also in another album of the school." if visible else ""
    return UploadResult(name, "accepted", photo_id=photo.id, message=message,
                        also_in_albums=tuple(sorted(visible)), video=video)


def upload_photos(
    session: Session, storage: Storage, actor: Actor, album: Album,
    files: Iterable[tuple[str, bytes]], *, limits: Limits = Limits(), now: datetime,
    roles: Iterable[str] | None = None,
) -> list[UploadResult]:
    """One result per file, in order; a refused file never affects the others."""
    return [upload_photo(session, storage, actor, album, name, data, limits=limits, now=now,
                         roles=roles)
            for name, data in files]


def reprocess_photo(session: Session, actor: Actor, photo: Photo, *, now: datetime,
                    reason: str = "retry") -> Photo:
    """Queue a photo for processing again; reviewer decisions are kept, detections replaced."""
    if photo.state not in REPROCESSABLE:
        raise InvalidState("Only photos that are waiting, being processed, failed or in review are processed again.")
    photo.state = "uploaded"
    photo.failure_reason = None
    photo.processing_started_at = None
    photo.attempts = 0
    session.flush()
    record_event(session, actor=actor, action="photo.reprocess", object_type="photo",
                 object_id=photo.id, school_id=photo.school_id, now=now,
                 details={"reason": reason})
    return photo


def photos_to_reprocess(session: Session, school_id: int | None = None, *,
                        album_id: int | None = None, photo_id: int | None = None,
                        failed_only: bool = False) -> list[Photo]:
    stmt = select(Photo).where(Photo.state.in_(REPROCESSABLE))
    if school_id is not None:
        stmt = stmt.where(Photo.school_id == school_id)
    if album_id is not None:
        stmt = stmt.where(Photo.album_id == album_id)
    if photo_id is not None:
        stmt = stmt.where(Photo.id == photo_id)
    if failed_only:
        stmt = stmt.where(Photo.state == "failed")
    return list(session.scalars(stmt.order_by(Photo.id)))


@dataclass(frozen=True)
class FailedPhoto:
    photo_id: int
    filename: str
    reason: str


@dataclass(frozen=True)
class AlbumProgress:
    """Processing progress of an album (what the status page and API show)."""

    total: int
    queued: int
    processing: int
    done: int
    failed: int
    faces: int
    failures: tuple[FailedPhoto, ...] = field(default_factory=tuple)

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else int(round(100 * self.finished / self.total))

    def as_dict(self) -> dict[str, object]:
        return {"total": self.total, "queued": self.queued, "processing": self.processing,
                "done": self.done, "failed": self.failed, "faces": self.faces,
                "percent": self.percent,
                "failures": [{"photo_id": f.photo_id, "filename": f.filename, "reason": f.reason}
                             for f in self.failures]}


def album_progress(session: Session, album_id: int) -> AlbumProgress:
    return _progress(session, Photo.album_id == album_id)


def school_progress(session: Session, school_id: int) -> AlbumProgress:
    """Processing progress over every album of a school (after "match again")."""
    return _progress(session, Photo.school_id == school_id)


def _progress(session: Session, scope: Any) -> AlbumProgress:
    counts = dict(session.execute(
        select(Photo.state, func.count()).where(scope).group_by(Photo.state)
    ).all())
    faces = session.scalar(select(func.count(Face.id)).join(Photo, Photo.id == Face.photo_id)
                           .where(scope)) or 0
    failures = tuple(FailedPhoto(p.id, p.original_filename, p.failure_reason or "")
                     for p in session.scalars(select(Photo).where(
                         scope, Photo.state == "failed").order_by(Photo.id)))
    return AlbumProgress(
        total=sum(counts.values()), queued=counts.get("uploaded", 0),
        processing=counts.get("processing", 0),
        done=sum(counts.get(s, 0) for s in DONE_STATES), failed=counts.get("failed", 0),
        faces=int(faces), failures=failures)


def video_progress(session: Session, album_id: int) -> dict[int, int]:
    """Percent of frames analysed per video of the album that is queued or being processed."""
    rows = session.execute(select(Photo.id, Photo.progress_done, Photo.progress_total).where(
        Photo.album_id == album_id, Photo.state.in_(("uploaded", "processing")),
        Photo.media_type.like("video/%")))
    return {int(pid): (min(100, round(100 * (done or 0) / total)) if total else 0)
            for pid, done, total in rows}


def get_photo_in_album(session: Session, album: Album, photo_id: int) -> Photo:
    photo = session.get(Photo, photo_id)
    if photo is None or photo.album_id != album.id:
        raise NotFound()
    return photo
