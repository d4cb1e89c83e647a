"""Reference faces (enrolled portraits), detected faces and reviewer decisions.

Encodings are biometric data: stored encrypted, never for faces that match
nobody, and deleted with the person's consent for face matching.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentflow.models.base import Base, utcnow
from consentflow.models.person import Person
from consentflow.models.photo import Photo


class ReferenceFace(Base):
    __tablename__ = "reference_face"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    portrait_sha256: Mapped[str] = mapped_column(String(64))
    encoding_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    person: Mapped[Person] = relationship()


class Face(Base):
    """A face found in a photo, by the detector or drawn by a reviewer."""

    __tablename__ = "face"
    __table_args__ = (
        CheckConstraint("source IN ('detector', 'reviewer')", name="source"),
        CheckConstraint(
            "match_status IN ('matched', 'ambiguous', 'weak', 'unknown')", name="match_status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), index=True)
    left: Mapped[int]
    top: Mapped[int]
    right: Mapped[int]
    bottom: Mapped[int]
    source: Mapped[str] = mapped_column(String(10), default="detector")
    detector: Mapped[str] = mapped_column(String(40), default="")
    score: Mapped[float] = mapped_column(default=0.0)
    encoding_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    match_status: Mapped[str] = mapped_column(String(10), default="unknown")
    matched_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    distance: Mapped[float | None]
    # [{"person_id": int, "distance": float}, ...] best first
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    photo: Mapped[Photo] = relationship()
    matched_person: Mapped[Person | None] = relationship()


REVIEW_KINDS = ("confirm", "assign", "not_person", "not_face", "external_adult")


class FaceReview(Base):
    """A reviewer's decision about a face, kept apart from detections.

    Reprocessing replaces detector faces; decisions carry the box they were
    made on so they re-attach to the new detection of the same face.
    """

    __tablename__ = "face_review"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('confirm', 'assign', 'not_person', 'not_face', 'external_adult')",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), index=True)
    face_id: Mapped[int | None] = mapped_column(ForeignKey("face.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    left: Mapped[int]
    top: Mapped[int]
    right: Mapped[int]
    bottom: Mapped[int]
    note: Mapped[str | None] = mapped_column(Text)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
