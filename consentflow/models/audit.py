"""The append-only, hash-chained audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column

from consentflow.models.base import Base, utcnow


class AuditEvent(Base):
    """One audited change. ``hash`` covers every field and the previous hash.

    Personal values sit in ``personal`` as salted commitments, so erasure can
    remove the value and salt while the chain still verifies (see audit.chain).
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]]
    personal: Mapped[dict[str, Any]]
    # Person ids this event concerns, for subject access and erasure.
    subject_ids: Mapped[list[int]] = mapped_column(default=list)
    # A unique previous hash makes a forked chain impossible.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Which hashing rule sealed the event (audit.chain.HASH_VERSIONS); events
    # written before revision 0005 keep rule 1, which does not cover the id.
    hash_version: Mapped[int] = mapped_column(default=2, server_default=text("1"))
