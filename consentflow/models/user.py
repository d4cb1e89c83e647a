"""Staff accounts and their per-school roles."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentflow.models.base import Base, utcnow
from consentflow.models.school import Board, School

ROLES = ("admin", "pr", "teacher", "privacy")


class User(UserMixin, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # A board administrator acts as admin in every school of the board.
    board_admin_of_id: Mapped[int | None] = mapped_column(ForeignKey("board.id"))
    locale: Mapped[str | None] = mapped_column(String(5))
    # Changes when the password changes; part of the session identity so old
    # sessions die with the old password.
    session_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # TOTP second factor: the secret sealed with a key derived from SECRET_KEY;
    # confirmed once the user typed a first code; the last accepted time step
    # so a code is never accepted twice.
    totp_secret_sealed: Mapped[str | None] = mapped_column(Text)
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    board_admin_of: Mapped[Board | None] = relationship()

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("user_id", "school_id", "role"),
        CheckConstraint("role IN ('admin', 'pr', 'teacher', 'privacy')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))

    user: Mapped[User] = relationship(back_populates="memberships")
    school: Mapped[School] = relationship()


class LoginAttempt(Base):
    """Login attempts, kept for throttling across processes."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), index=True)
    success: Mapped[bool]
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The known-device id of the client (from its device cookie), or None for
    # an unknown client; a known device only answers for its own failures.
    device: Mapped[str | None] = mapped_column(String(32), index=True)


class UserSession(Base):
    """A signed-in browser session, checked on every request so it can be ended on the server."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of the random token kept in the browser's session cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    school: Mapped[School | None] = relationship()
