"""Boards and schools: the tenancy boundary of every other object."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentflow.models.base import Base, utcnow

BIOMETRIC_MODES = ("all", "consented", "off")


class Board(Base):
    __tablename__ = "board"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    schools: Mapped[list[School]] = relationship(back_populates="board")

    def __str__(self) -> str:
        return self.name


class School(Base):
    __tablename__ = "school"
    __table_args__ = (
        CheckConstraint(
            "biometric_mode IN ('all', 'consented', 'off')", name="biometric_mode"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int | None] = mapped_column(ForeignKey("board.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    locale: Mapped[str] = mapped_column(String(5), default="nl")
    # SPEC §7: which faces are enrolled for matching.
    biometric_mode: Mapped[str] = mapped_column(String(12), default="consented")
    # Block a photo for a purpose when a face that must be blurred covers more
    # than this share of the image (the unconsented person is the subject).
    block_face_share: Mapped[float] = mapped_column(default=0.12)
    # First day of the school year (default 1 August).
    year_start_month: Mapped[int] = mapped_column(default=8)
    year_start_day: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    board: Mapped[Board | None] = relationship(back_populates="schools")

    def __str__(self) -> str:
        return self.name
