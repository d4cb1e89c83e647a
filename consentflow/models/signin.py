"""School sign-in: OpenID Connect providers per school, recovery codes, invitation and reset links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentflow.models.base import Base, utcnow
from consentflow.models.school import School

LINK_PURPOSES = ("invite", "reset")


class SignInProvider(Base):
    """A school's own OpenID Connect provider (Entree Federatie, Entra ID, Google Workspace...)."""

    __tablename__ = "signin_provider"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One provider per school: staff of that school sign in with it.
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # Fernet token (key derived from SECRET_KEY); never shown again after saving.
    client_secret_sealed: Mapped[str] = mapped_column(Text, default="")
    scopes: Mapped[str] = mapped_column(String(300), default="openid email profile")
    email_claim: Mapped[str] = mapped_column(String(80), default="email")
    # Comma-separated e-mail domains whose accounts may sign in (empty: no domain rule).
    allowed_domains: Mapped[str] = mapped_column(String(500), default="")
    # A claim and the comma-separated values it must carry (e.g. Entra "tid").
    org_claim: Mapped[str] = mapped_column(String(80), default="")
    org_values: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    school: Mapped[School] = relationship()

    def __str__(self) -> str:
        return self.name


class RecoveryCode(Base):
    """A one-time second-factor recovery code; only its sha256 is kept."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class AccountLink(Base):
    """A signed, expiring, single-use link: an invitation, a password reset or a second-factor set-up."""

    __tablename__ = "account_link"
    __table_args__ = (CheckConstraint("purpose IN ('invite', 'reset', 'enrol')", name="purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(12))
    # sha256 of the random part of the link: a database copy cannot be turned into a link.
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
