"""Publications of redacted derivatives and the takedowns withdrawal causes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentflow.models.base import Base, utcnow
from consentflow.models.person import Person
from consentflow.models.photo import Photo
from consentflow.models.user import User


class Publication(Base):
    __tablename__ = "publication"
    __table_args__ = (
        # At most one live publication per photo and channel, whoever publishes when.
        Index("uq_publication_live", "photo_id", "purpose", unique=True,
              sqlite_where=text("taken_down_at IS NULL"),
              postgresql_where=text("taken_down_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    channel_note: Mapped[str | None] = mapped_column(String(300))
    derivative_sha256: Mapped[str] = mapped_column(String(64))
    derivative_key: Mapped[str | None] = mapped_column(String(200))
    maker_credit: Mapped[str] = mapped_column(String(200), default="")
    # For every face: person (or unknown), decision, consent record id.
    snapshot: Mapped[list[dict[str, Any]]]
    # Videos only: what was decided for the whole file (the sound: asked to
    # keep, kept by the rule or dropped, and why) and how it was checked.
    video_snapshot: Mapped[dict[str, Any] | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    taken_down_at: Mapped[datetime | None]

    photo: Mapped[Photo] = relationship()
    published_by: Mapped[User | None] = relationship()


class TakedownTask(Base):
    __tablename__ = "takedown_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publication.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    consent_record_id: Mapped[int | None] = mapped_column(ForeignKey("consent_record.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    done_note: Mapped[str | None] = mapped_column(Text)

    publication: Mapped[Publication] = relationship()
    person: Mapped[Person | None] = relationship()


class FaceRedaction(Base):
    """A reviewer's choice of a stronger redaction for one face of a photo.

    Like FaceReview it carries the box it was made on: it applies to the face
    whose box overlaps it best, so it survives reprocessing.
    """

    __tablename__ = "face_redaction"
    __table_args__ = (CheckConstraint("mode IN ('standard', 'wide', 'solid')", name="mode"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), index=True)
    face_id: Mapped[int | None] = mapped_column(ForeignKey("face.id", ondelete="SET NULL"))
    mode: Mapped[str] = mapped_column(String(10))
    left: Mapped[int]
    top: Mapped[int]
    right: Mapped[int]
    bottom: Mapped[int]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
