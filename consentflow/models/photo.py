"""Albums and photos with their processing state."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentflow.models.base import Base, utcnow
from consentflow.models.user import User

PHOTO_STATES = (
    "uploaded", "processing", "needs_review", "approved", "published",
    "rejected", "failed", "withdrawn",
)


class Album(Base):
    __tablename__ = "album"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    event_date: Mapped[date]
    description: Mapped[str] = mapped_column(Text, default="")
    maker: Mapped[str] = mapped_column(String(200), default="")
    # Intended channels ("website", "social_media", ...).
    purposes: Mapped[list[str]]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship()
    photos: Mapped[list[Photo]] = relationship(back_populates="album", order_by="Photo.id")


class Photo(Base):
    __tablename__ = "photo"
    __table_args__ = (
        UniqueConstraint("album_id", "sha256"),
        CheckConstraint(
            "state IN ('uploaded', 'processing', 'needs_review', 'approved', "
            "'published', 'rejected', 'failed', 'withdrawn')",
            name="state",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    album_id: Mapped[int] = mapped_column(ForeignKey("album.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Storage key of the original; None once deleted by retention.
    storage_key: Mapped[str | None] = mapped_column(String(200))
    original_filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int]
    height: Mapped[int]
    byte_size: Mapped[int]
    state: Mapped[str] = mapped_column(String(16), default="uploaded", index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    engine_settings: Mapped[dict[str, Any] | None]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    processing_started_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    # Video analysis progress (frames decoded / frames expected), for the progress bar.
    progress_done: Mapped[int | None]
    progress_total: Mapped[int | None]
    # Optimistic locking: concurrent reviewers get a clear conflict, never a lost update.
    version: Mapped[int] = mapped_column(default=1)

    album: Mapped[Album] = relationship(back_populates="photos")
    uploaded_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


class PhotoPurpose(Base):
    """Per-purpose review outcome of a photo: approved, or blocked for that purpose."""

    __tablename__ = "photo_purpose"
    __table_args__ = (
        UniqueConstraint("photo_id", "purpose"),
        CheckConstraint("status IN ('pending', 'approved', 'blocked', 'publishing')",
                        name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None]
    # Background publication: the request claims approved -> publishing and
    # enqueues; a worker claims the run (started_at) and records the outcome.
    publish_requested_at: Mapped[datetime | None]
    publish_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    publish_note: Mapped[str | None] = mapped_column(String(300))
    publish_started_at: Mapped[datetime | None]
    publish_attempts: Mapped[int] = mapped_column(default=0)
    # The last refused or failed attempt: {"message": str, "leaks": [{face_id, box, reason, ...}]}.
    refusal: Mapped[dict[str, Any] | None]
    # Videos: the reviewer asked to keep the sound (it is kept only if the
    # audio rule also allows it, see publish.video.audio_kept).
    keep_audio: Mapped[bool] = mapped_column(default=False)
    # Video rendering and checking progress (frames done / frames to do).
    render_done: Mapped[int | None]
    render_total: Mapped[int | None]
