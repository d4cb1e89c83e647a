"""Personal consent links: a signed token over the link's nonce, checked against the database.

One link per person and signer for the whole school year: it is made once,
mailed again by later mailings and reminders, and works until the end of the
school year (school time), unless the school revokes it or the person leaves.
Closing or opening a mailing never stops a link, so the promise "the same
link changes or withdraws your answer" holds all year.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.config import ConfigError, public_base_url
from consentflow.consent.signer import end_of_school_day
from consentflow.errors import DomainError, InvalidState, NotFound
from consentflow.models import ConsentLink, ConsentRound, Guardian, Person, SchoolYear

TOKEN_SALT = "consentflow.consent-link.v1"
log = logging.getLogger("consentflow.consent.links")


class LinkRefused(DomainError):
    """This consent link cannot be used."""

    status_code = 404

    def __init__(self, reason: str, status_code: int, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason  # forged | unknown | expired | revoked | left
        self.status_code = status_code


@dataclass(frozen=True)
class LinkContext:
    """What a link message needs besides the link: where the app lives and how to sign."""

    base_url: str
    secret_key: str

    def url(self, link: ConsentLink) -> str:
        return link_url(self.base_url, self.secret_key, link)


class PublicAddressMissing(InvalidState):
    """PUBLIC_BASE_URL is missing or not public: no link can be mailed or printed."""


def link_context_from(config: Mapping[str, Any]) -> LinkContext:
    """The link context of the app's settings; refuses to make links without a public address."""
    try:
        base = public_base_url(config)
    except ConfigError as err:
        log.error("%s", err)
        raise PublicAddressMissing(
            "Links for families cannot be made: the public address of the app (PUBLIC_BASE_URL) is "
            "not set or is not public. Ask the administrator to set it.") from err
    return LinkContext(base, str(config["SECRET_KEY"]))


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def make_token(secret_key: str, nonce: str) -> str:
    """The URL token; deterministic, so an admin can show a link again later."""
    return URLSafeSerializer(secret_key, salt=TOKEN_SALT).dumps(nonce)


def link_url(base_url: str, secret_key: str, link: ConsentLink) -> str:
    return f"{base_url.rstrip('/')}/c/{make_token(secret_key, link.nonce)}"


@dataclass(frozen=True)
class LinkState:
    label: str  # active | expired | revoked
    usable: bool


def link_state(link: ConsentLink, now: datetime) -> LinkState:
    """Whether a link works now; the mailing it came with has no say (see the module docstring)."""
    if link.revoked_at is not None:
        return LinkState("revoked", False)
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


def link_expiry(year: SchoolYear) -> datetime:
    """A year link works until the school year's last day has ended, school time."""
    return end_of_school_day(year.ends_on)


def year_link(session: Session, school_year_id: int, person_id: int, guardian_id: int | None,
              now: datetime) -> ConsentLink | None:
    """The usable link of this person and signer in the school year, if one was made."""
    signer = (ConsentLink.guardian_id.is_(None) if guardian_id is None
              else ConsentLink.guardian_id == guardian_id)
    return session.scalar(
        select(ConsentLink).join(ConsentRound, ConsentRound.id == ConsentLink.round_id)
        .where(ConsentRound.school_year_id == school_year_id, ConsentLink.person_id == person_id,
               signer, ConsentLink.revoked_at.is_(None), ConsentLink.expires_at > now)
        .order_by(ConsentLink.id).limit(1))


def ensure_year_link(session: Session, rnd: ConsentRound, person: Person, guardian: Guardian | None,
                     now: datetime) -> tuple[ConsentLink, bool]:
    """The person's link for this signer in the round's year, made now if there is none (created?)."""
    existing = year_link(session, rnd.school_year_id, person.id, guardian.id if guardian else None, now)
    if existing is not None:
        return existing, False
    link = ConsentLink(school_id=rnd.school_id, round_id=rnd.id, person_id=person.id,
                       guardian_id=guardian.id if guardian else None, nonce=new_nonce(),
                       expires_at=link_expiry(rnd.school_year), created_at=now, reminders_sent=0)
    link.round = rnd
    link.person = person
    link.guardian = guardian
    session.add(link)
    session.flush()
    return link, True
