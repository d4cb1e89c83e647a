"""Digital consent rounds: one personal link per guardian–child pair and per self-signer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from consentflow.audit.service import Actor, record_event
from consentflow.consent.links import link_url, new_nonce
from consentflow.consent.outbox import queue_message, render_message
from consentflow.consent.signer import signs_for_self
from consentflow.errors import InvalidInput, InvalidState, NotFound, SignerRuleViolation
from consentflow.models import ConsentForm, ConsentLink, ConsentRound, Guardian, Person, School, SchoolYear


@dataclass(frozen=True)
class LinkContext:
    """What a link message needs besides the link: where the app lives and how to sign."""

    base_url: str
    secret_key: str


@dataclass
class RoundSummary:
    round: ConsentRound
    links: int = 0
    messages: int = 0
    # (person, reason) for people who got no message; their links can be handed over.
    unreachable: list[tuple[Person, str]] = field(default_factory=list)


def active_people(session: Session, school_id: int, today: date) -> list[Person]:
    """People still at school today (not left, not erased), with their guardians."""
    return list(session.scalars(
        select(Person).options(selectinload(Person.guardians))
        .where(Person.school_id == school_id, Person.erased_at.is_(None),
               or_(Person.left_on.is_(None), Person.left_on > today))
        .order_by(Person.group_name, Person.last_name, Person.first_name)
    ))


def _queue_link_message(session: Session, ctx: LinkContext, school: School, link: ConsentLink,
                        person: Person, guardian: Guardian | None, now: datetime) -> bool:
    to = guardian.email if guardian else person.email
    if not to:
        return False
    subject, body = render_message(
        "consent/email/link.txt", school.locale, school=school, person=person, guardian=guardian,
        url=link_url(ctx.base_url, ctx.secret_key, link), expires_on=link.expires_at.date())
    queue_message(session, school_id=school.id, to_address=to, subject=subject, body=body, now=now)
    return True


def _new_link(session: Session, rnd: ConsentRound, person: Person, guardian: Guardian | None,
              expires_at: datetime, now: datetime) -> ConsentLink:
    link = ConsentLink(school_id=rnd.school_id, round_id=rnd.id, person_id=person.id,
                       guardian_id=guardian.id if guardian else None, nonce=new_nonce(),
                       expires_at=expires_at, created_at=now)
    link.round = rnd
    link.person = person
    link.guardian = guardian
    session.add(link)
    return link


def open_round(session: Session, *, actor: Actor, school_id: int, school_year_id: int, form_id: int,
               valid_days: int, ctx: LinkContext, now: datetime) -> RoundSummary:
    """Open a round: earlier rounds of the year close, everyone at school gets a personal link."""
    school = session.get(School, school_id)
    year = session.get(SchoolYear, school_year_id)
    form = session.get(ConsentForm, form_id)
    if school is None or year is None or year.school_id != school_id:
        raise NotFound("No such school year.")
    if form is None or form.school_year_id != year.id:
        raise InvalidInput("Choose a form version of that school year.")
    if not 1 <= valid_days <= 366:
        raise InvalidInput("Links are valid between 1 and 366 days.")
    for old in session.scalars(select(ConsentRound).where(
            ConsentRound.school_id == school_id, ConsentRound.school_year_id == year.id,
            ConsentRound.closed_at.is_(None))):
        old.closed_at = now
    rnd = ConsentRound(school_id=school_id, school_year_id=year.id, form_id=form.id, opened_at=now,
                       opened_by_id=actor.id)
    session.add(rnd)
    session.flush()
    summary = RoundSummary(rnd)
    expires_at = now + timedelta(days=valid_days)
    today = now.date()
    planned: list[tuple[ConsentLink, Person, Guardian | None]] = []
    for person in active_people(session, school_id, today):
        try:
            self_signer = signs_for_self(person, today)
        except SignerRuleViolation:
            summary.unreachable.append((person, "no date of birth"))
            continue
        if self_signer:
            planned.append((_new_link(session, rnd, person, None, expires_at, now), person, None))
        elif not person.guardians:
            summary.unreachable.append((person, "no guardian"))
        else:
            for guardian in person.guardians:
                planned.append((_new_link(session, rnd, person, guardian, expires_at, now), person, guardian))
    session.flush()
    for link, person, addressee in planned:
        if _queue_link_message(session, ctx, school, link, person, addressee, now):
            summary.messages += 1
        else:
            summary.unreachable.append((person, "no e-mail address"))
    summary.links = len(planned)
    record_event(session, actor=actor, school_id=school_id, action="consent_round.open",
                 object_type="consent_round", object_id=rnd.id,
                 details={"school_year_id": year.id, "form_id": form.id, "links": summary.links,
                          "messages": summary.messages, "valid_days": valid_days}, now=now)
    return summary


def close_round(session: Session, *, actor: Actor, school_id: int, round_id: int, now: datetime) -> ConsentRound:
    """Close a round: its links stop working; records already given stay."""
    rnd = session.get(ConsentRound, round_id)
    if rnd is None or rnd.school_id != school_id:
        raise NotFound("No such round.")
    if rnd.closed_at is None:
        rnd.closed_at = now
        record_event(session, actor=actor, school_id=school_id, action="consent_round.close",
                     object_type="consent_round", object_id=rnd.id, now=now)
    return rnd


def open_round_for(session: Session, school_id: int, on: date) -> ConsentRound | None:
    """The open round of the school year containing ``on``."""
    return session.scalar(
        select(ConsentRound).join(SchoolYear, SchoolYear.id == ConsentRound.school_year_id)
        .where(ConsentRound.school_id == school_id, ConsentRound.closed_at.is_(None),
               SchoolYear.starts_on <= on, SchoolYear.ends_on >= on)
        .order_by(ConsentRound.id.desc()).limit(1)
    )


def resend_link(session: Session, *, actor: Actor, school_id: int, link_id: int, ctx: LinkContext,
                now: datetime) -> bool:
    """Queue the link's message again (e.g. after fixing an e-mail address)."""
    link = session.get(ConsentLink, link_id)
    if link is None or link.school_id != school_id:
        raise NotFound("No such link.")
    school = session.get(School, school_id)
    assert school is not None
    queued = _queue_link_message(session, ctx, school, link, link.person, link.guardian, now)
    record_event(session, actor=actor, school_id=school_id, action="consent_link.resend",
                 object_type="consent_link", object_id=link.id, subject_ids=[link.person_id],
                 details={"queued": queued}, now=now)
    return queued


def send_own_link(session: Session, *, actor: Actor, school_id: int, person_id: int, ctx: LinkContext,
                  valid_days: int, now: datetime) -> tuple[ConsentLink, bool]:
    """Invite a student who turned 16 to answer for themself; the guardians' record stays until then."""
    person = session.get(Person, person_id)
    if person is None or person.school_id != school_id or person.erased_at is not None:
        raise NotFound("No such person.")
    if not signs_for_self(person, now.date()):
        raise SignerRuleViolation(f"{person.full_name} is not 16 yet; a guardian signs.")
    rnd = open_round_for(session, school_id, now.date())
    if rnd is None:
        raise InvalidState("There is no open consent round for this school year; open one first.")
    link = session.scalar(
        select(ConsentLink).where(ConsentLink.round_id == rnd.id, ConsentLink.person_id == person.id,
                                  ConsentLink.guardian_id.is_(None), ConsentLink.revoked_at.is_(None),
                                  ConsentLink.expires_at > now)
    )
    if link is None:
        link = _new_link(session, rnd, person, None, now + timedelta(days=valid_days), now)
        session.flush()
    school = session.get(School, school_id)
    assert school is not None
    queued = _queue_link_message(session, ctx, school, link, person, None, now)
    record_event(session, actor=actor, school_id=school_id, action="consent_link.own_link",
                 object_type="consent_link", object_id=link.id, subject_ids=[person.id],
                 details={"queued": queued}, now=now)
    return link, queued


def round_links(session: Session, round_id: int, group: str | None = None,
                limit: int = 500) -> list[ConsentLink]:
    stmt = (select(ConsentLink).join(Person, Person.id == ConsentLink.person_id)
            .options(selectinload(ConsentLink.person), selectinload(ConsentLink.guardian))
            .where(ConsentLink.round_id == round_id))
    if group:
        stmt = stmt.where(Person.group_name == group)
    return list(session.scalars(stmt.order_by(Person.group_name, Person.last_name, ConsentLink.id).limit(limit)))
