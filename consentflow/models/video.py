"""Faces followed through a video: one track per face, reviewed like a photo face.

A video is a ``Photo`` row with a video media type. Each track is stored as
a ``Face`` row of that video (its best frame's box, match suggestion and,
when it matched someone, the encrypted encoding), so review decisions,
consent rules, takedowns, subject access and erasure treat a track exactly
like a photo face. ``VideoTrack`` adds what only a video has: when the face
is on screen and where it is on every frame (a JSON file in storage, next to
the reviewer's copies so retention and erasure remove it with them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentflow.models.base import Base, utcnow
from consentflow.models.face import Face


class VideoTrack(Base):
    __tablename__ = "video_track"

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), index=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("face.id", ondelete="CASCADE"), unique=True)
    # The analysis' own track number (1, 2, ...), shown to the reviewer.
    number: Mapped[int]
    fps: Mapped[float]
    first_frame: Mapped[int]
    last_frame: Mapped[int]
    # Frames on which the face is covered (detected or filled in by the tracker).
    frame_count: Mapped[int]
    detections: Mapped[int]
    # Storage key of {"frames": {index: [l, t, r, b]}}: the per-frame boxes rendering blurs.
    boxes_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    face: Mapped[Face] = relationship()

    @property
    def first_time(self) -> float:
        return self.first_frame / self.fps if self.fps else 0.0

    @property
    def last_time(self) -> float:
        return self.last_frame / self.fps if self.fps else 0.0
