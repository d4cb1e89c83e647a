"""Personal consent links: a signed token over the link's nonce, checked against the database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.errors import DomainError, NotFound
from consentflow.models import ConsentLink

TOKEN_SALT = "consentflow.consent-link.v1"


class LinkRefused(DomainError):
    """This consent link cannot be used."""

    status_code = 404

    def __init__(self, reason: str, status_code: int, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason  # forged | unknown | expired | revoked | closed | left
        self.status_code = status_code


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def make_token(secret_key: str, nonce: str) -> str:
    """The URL token; deterministic, so an admin can show a link again later."""
    return URLSafeSerializer(secret_key, salt=TOKEN_SALT).dumps(nonce)


def link_url(base_url: str, secret_key: str, link: ConsentLink) -> str:
    return f"{base_url.rstrip('/')}/c/{make_token(secret_key, link.nonce)}"


@dataclass(frozen=True)
class LinkState:
    label: str  # active | expired | revoked | closed
    usable: bool


def link_state(link: ConsentLink, now: datetime) -> LinkState:
    if link.revoked_at is not None:
        return LinkState("revoked", False)
    if link.round.closed_at is not None:
        return LinkState("closed", False)
    if link.expires_at <= now:
        return LinkState("expired", False)
    return LinkState("active", True)


def resolve_link(session: Session, secret_key: str, token: str, now: datetime) -> ConsentLink:
    """The link behind a token, or LinkRefused saying why (forged, expired, revoked, ...)."""
    try:
        nonce = URLSafeSerializer(secret_key, salt=TOKEN_SALT).loads(token)
    except BadSignature:
        raise LinkRefused("forged", 404) from None
    if not isinstance(nonce, str):
        raise LinkRefused("forged", 404)
    link = session.scalar(select(ConsentLink).where(ConsentLink.nonce == nonce))
    if link is None:
        raise LinkRefused("unknown", 404)
    state = link_state(link, now)
    if not state.usable:
        raise LinkRefused(state.label, 410)
    person = link.person
    if person.erased_at is not None or (person.left_on is not None and person.left_on <= now.date()):
        raise LinkRefused("left", 410)
    return link


def revoke_link(session: Session, *, actor: Actor, school_id: int, link_id: int,
                now: datetime) -> ConsentLink:
    """Revoke a link at once: a forwarded or leaked link stops working."""
    link = session.get(ConsentLink, link_id)
    if link is None or link.school_id != school_id:
        raise NotFound("No such link.")
    if link.revoked_at is None:
        link.revoked_at = now
        session.flush()
        record_event(session, actor=actor, school_id=school_id, action="consent_link.revoke",
                     object_type="consent_link", object_id=link.id, subject_ids=[link.person_id],
                     now=now)
    return link
