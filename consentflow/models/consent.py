"""School years, consent forms, immutable consent records and consent rounds."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Connection,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    event,
    exists,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentflow.models.base import Base, utcnow
from consentflow.models.person import Guardian, Person
from consentflow.models.user import User

CHANNELS = ("website", "social_media", "newsletter", "prospectus", "parent_portal", "press")
MEDIA = ("photo", "video")
FACE_MATCHING = "face_matching"
DEFAULT_PURPOSES: tuple[str, ...] = tuple(
    f"{channel}.{medium}" for channel in CHANNELS for medium in MEDIA
) + (FACE_MATCHING,)


class SchoolYear(Base):
    __tablename__ = "school_year"
    __table_args__ = (UniqueConstraint("school_id", "starts_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    label: Mapped[str] = mapped_column(String(20))
    starts_on: Mapped[date]
    ends_on: Mapped[date]

    def __str__(self) -> str:
        return self.label


class ConsentForm(Base):
    """One version of the consent wording and purposes for a school year."""

    __tablename__ = "consent_form"
    __table_args__ = (UniqueConstraint("school_year_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    school_year_id: Mapped[int] = mapped_column(ForeignKey("school_year.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(String(200))
    wording: Mapped[str] = mapped_column(Text)
    purposes: Mapped[list[str]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    school_year: Mapped[SchoolYear] = relationship()

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


FORM_SIGNED_MESSAGE = "this consent form version has been signed and cannot change; make a new version"


def form_is_signed(connection: Connection, form_id: int) -> bool:
    """A form version is frozen once any consent record refers to it."""
    return bool(connection.scalar(select(exists().where(ConsentRecord.form_id == form_id))))


@event.listens_for(ConsentForm, "before_update")
@event.listens_for(ConsentForm, "before_delete")
def _refuse_signed_change(_mapper: object, connection: Connection, target: ConsentForm) -> None:
    # Also enforced by a database trigger (migration 0005).
    if form_is_signed(connection, target.id):
        raise ValueError(FORM_SIGNED_MESSAGE)


class ConsentRecord(Base):
    """An immutable answer; a change or withdrawal is a new, superseding record.

    Updates are refused by the ORM and, on both databases, by a trigger.
    """

    __tablename__ = "consent_record"
    __table_args__ = (
        CheckConstraint("signer_kind IN ('guardian', 'self')", name="signer_kind"),
        CheckConstraint("method IN ('digital', 'paper', 'in_person')", name="method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    school_year_id: Mapped[int] = mapped_column(ForeignKey("school_year.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("consent_form.id"))
    # purpose key ("website.photo", "face_matching", ...) -> yes/no
    decisions: Mapped[dict[str, bool]]
    signer_kind: Mapped[str] = mapped_column(String(10))
    signer_guardian_id: Mapped[int | None] = mapped_column(ForeignKey("guardian.id"))
    signer_name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(12))
    signed_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    evidence_key: Mapped[str | None] = mapped_column(String(200))
    evidence_note: Mapped[str | None] = mapped_column(Text)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("consent_record.id"))
    # One record per submitted consent page: a double submission of the same
    # page is refused by the database, not only by the view.
    submission_nonce: Mapped[str | None] = mapped_column(String(64), unique=True)

    person: Mapped[Person] = relationship()
    school_year: Mapped[SchoolYear] = relationship()
    form: Mapped[ConsentForm] = relationship()
    signer_guardian: Mapped[Guardian | None] = relationship()
    recorded_by: Mapped[User | None] = relationship()


class ConsentRound(Base):
    """A mailing of the year's personal links (it no longer decides whether a link works)."""

    __tablename__ = "consent_round"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    school_year_id: Mapped[int] = mapped_column(ForeignKey("school_year.id"))
    form_id: Mapped[int] = mapped_column(ForeignKey("consent_form.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None]
    # The school's reminder schedule for this mailing: every N days to those who
    # have not answered, at most M times (None: no reminders).
    reminder_every_days: Mapped[int | None]
    reminder_max: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    form: Mapped[ConsentForm] = relationship()
    school_year: Mapped[SchoolYear] = relationship()


class ConsentLink(Base):
    """A personal link for one signer and one person for a whole school year.

    ``round_id`` is the mailing that first sent it; later mailings and
    reminders send the same link again. The URL carries a signed token.
    """

    __tablename__ = "consent_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("consent_round.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("guardian.id"))
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    reminders_sent: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # The language the recipient chose on their page; later mail follows it.
    language: Mapped[str | None] = mapped_column(String(5))

    round: Mapped[ConsentRound] = relationship()
    person: Mapped[Person] = relationship()
    guardian: Mapped[Guardian | None] = relationship()


class OutboxMessage(Base):
    """Outgoing e-mail; kept even when SMTP is not configured so nothing is lost."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)  # the plain-text part
    html_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


@event.listens_for(ConsentRecord, "before_update")
def _refuse_update(_mapper: object, _connection: object, target: ConsentRecord) -> None:
    raise ValueError(
        f"consent record {target.id} is immutable; record a superseding record instead"
    )
