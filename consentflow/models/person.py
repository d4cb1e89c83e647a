"""Students, staff and the guardians of students."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentflow.models.base import Base, utcnow
from consentflow.models.school import School

person_guardian = Table(
    "person_guardian",
    Base.metadata,
    Column("person_id", ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    Column("guardian_id", ForeignKey("guardian.id", ondelete="CASCADE"), primary_key=True),
    Column("relation", String(40), nullable=True),
)


class Person(Base):
    __tablename__ = "person"
    __table_args__ = (
        UniqueConstraint("school_id", "external_id"),
        CheckConstraint("kind IN ('student', 'staff')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="student")
    # Student number or staff number from the school administration system.
    external_id: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(120))
    last_name: Mapped[str] = mapped_column(String(160))
    date_of_birth: Mapped[date | None]
    group_name: Mapped[str | None] = mapped_column(String(40), index=True)
    # The person's own address: students of 16+ and staff get their own consent link.
    email: Mapped[str | None] = mapped_column(String(254))
    enrolled_on: Mapped[date | None]
    left_on: Mapped[date | None]
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    school: Mapped[School] = relationship()
    guardians: Mapped[list[Guardian]] = relationship(
        secondary=person_guardian, back_populates="children"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def __str__(self) -> str:
        return f"{self.full_name} ({self.external_id})"


class Guardian(Base):
    __tablename__ = "guardian"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    school: Mapped[School] = relationship()
    children: Mapped[list[Person]] = relationship(
        secondary=person_guardian, back_populates="guardians"
    )

    def __str__(self) -> str:
        return self.name
