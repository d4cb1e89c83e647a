"""Mailings ("rounds"): sending the year's personal links, to everyone, newcomers and the reminded.

A round no longer owns its links. Each person has one link per signer for
the school year (``links.ensure_year_link``); a round is a mailing that
sends those links, takes in newcomers while it is open, and reminds those
who have not answered on the school's schedule. Opening a new mailing ends
the reminders of the previous one; every link already sent keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from consentflow.audit.service import Actor, record_event
from consentflow.consent.family_mail import queue_link_mail, recipient_address
from consentflow.consent.links import LinkContext, ensure_year_link, year_link
from consentflow.consent.signer import local_date, signers_of
from consentflow.consent.years import latest_form
from consentflow.errors import InvalidInput, InvalidState, NotFound
from consentflow.models import (
    ConsentForm,
    ConsentLink,
    ConsentRecord,
    ConsentRound,
    Guardian,
    Person,
    School,
    SchoolYear,
)

__all__ = ["LinkContext", "RoundSummary", "active_people", "open_round", "close_round", "open_round_for",
           "add_newcomers", "send_person_links", "resend_link", "send_reminders", "round_links",
           "set_reminders", "answered_people"]

AUDIENCES = ("unanswered", "everyone")


@dataclass
class RoundSummary:
    round: ConsentRound
    links: int = 0
    messages: int = 0
    # (person, reason) for people who got no message; their links can be printed as a letter.
    unreachable: list[tuple[Person, str]] = field(default_factory=list)


def active_people(session: Session, school_id: int, today: date) -> list[Person]:
    """People still at school today (not left, not erased), with their guardians."""
    return list(session.scalars(
        select(Person).options(selectinload(Person.guardians))
        .where(Person.school_id == school_id, Person.erased_at.is_(None),
               or_(Person.left_on.is_(None), Person.left_on > today))
        .order_by(Person.group_name, Person.last_name, Person.first_name)
    ))


def answered_people(session: Session, school_year_id: int, person_ids: list[int]) -> set[int]:
    """People with any answer on file in the school year (they are not reminded)."""
    if not person_ids:
        return set()
    return set(session.scalars(select(ConsentRecord.person_id).where(
        ConsentRecord.school_year_id == school_year_id, ConsentRecord.person_id.in_(person_ids))))


def _check_schedule(every_days: int | None, max_reminders: int) -> None:
    if every_days is not None and not 1 <= every_days <= 60:
        raise InvalidInput("Reminders go out every 1 to 60 days.")
    if not 0 <= max_reminders <= 10:
        raise InvalidInput("At most 10 reminders.")


def _reach(session: Session, ctx: LinkContext, school: School, rnd: ConsentRound, person: Person,
           today: date, now: datetime, summary: RoundSummary, *, mail: bool) -> list[ConsentLink]:
    """Make sure the person's signers have their year link; mail it when asked. Returns the links."""
    signers = signers_of(person, today)
    if not signers.reachable:
        summary.unreachable.append((person, signers.problem or ""))
        return []
    targets: list[Guardian | None] = [None] if signers.self_signs else list(signers.guardians)
    links = []
    for guardian in targets:
        link, created = ensure_year_link(session, rnd, person, guardian, now)
        summary.links += int(created)
        links.append(link)
        if not mail:
            continue
        if queue_link_mail(session, ctx, school, link, "invitation", now) is not None:
            summary.messages += 1
        else:
            summary.unreachable.append((person, "no e-mail address"))
    return links


def open_round(session: Session, *, actor: Actor, school_id: int, school_year_id: int, form_id: int,
               ctx: LinkContext, now: datetime, audience: str = "unanswered",
               reminder_every_days: int | None = None, reminder_max: int = 0) -> RoundSummary:
    """Open a mailing: everyone at school gets their year link (made now if new); earlier links keep working.

    ``audience`` "unanswered" mails only those without an answer this year
    (families who answered are not asked again); "everyone" mails all, e.g.
    after a new form version. The previous open mailing of the year ends
    (no more reminders or newcomers through it).
    """
    school = session.get(School, school_id)
    year = session.get(SchoolYear, school_year_id)
    form = session.get(ConsentForm, form_id)
    if school is None or year is None or year.school_id != school_id:
        raise NotFound("No such school year.")
    if form is None or form.school_year_id != year.id:
        raise InvalidInput("Choose a form version of that school year.")
    if audience not in AUDIENCES:
        raise InvalidInput("Choose whom to send the links to.")
    _check_schedule(reminder_every_days, reminder_max)
    for old in session.scalars(select(ConsentRound).where(
            ConsentRound.school_id == school_id, ConsentRound.school_year_id == year.id,
            ConsentRound.closed_at.is_(None))):
        old.closed_at = now
    rnd = ConsentRound(school_id=school_id, school_year_id=year.id, form_id=form.id, opened_at=now,
                       opened_by_id=actor.id, reminder_every_days=reminder_every_days,
                       reminder_max=reminder_max if reminder_every_days else 0)
    rnd.school_year = year
    session.add(rnd)
    session.flush()
    summary = RoundSummary(rnd)
    today = local_date(now)
    people = active_people(session, school_id, today)
    answered = answered_people(session, year.id, [p.id for p in people]) if audience == "unanswered" else set()
    for person in people:
        _reach(session, ctx, school, rnd, person, today, now, summary, mail=person.id not in answered)
    record_event(session, actor=actor, school_id=school_id, action="consent_round.open",
                 object_type="consent_round", object_id=rnd.id,
                 details={"school_year_id": year.id, "form_id": form.id, "links_made": summary.links,
                          "messages": summary.messages, "audience": audience,
                          "reminder_every_days": reminder_every_days, "reminder_max": rnd.reminder_max},
                 now=now)
    return summary


def close_round(session: Session, *, actor: Actor, school_id: int, round_id: int, now: datetime) -> ConsentRound:
    """End a mailing: no more reminders or newcomers through it; every link keeps working."""
    rnd = session.get(ConsentRound, round_id)
    if rnd is None or rnd.school_id != school_id:
        raise NotFound("No such round.")
    if rnd.closed_at is None:
        rnd.closed_at = now
        record_event(session, actor=actor, school_id=school_id, action="consent_round.close",
                     object_type="consent_round", object_id=rnd.id, now=now)
    return rnd


def set_reminders(session: Session, *, actor: Actor, school_id: int, round_id: int,
                  every_days: int | None, max_reminders: int, now: datetime) -> ConsentRound:
    """Change a mailing's reminder schedule (None: no reminders)."""
    rnd = session.get(ConsentRound, round_id)
    if rnd is None or rnd.school_id != school_id:
        raise NotFound("No such round.")
    _check_schedule(every_days, max_reminders)
    rnd.reminder_every_days = every_days
    rnd.reminder_max = max_reminders if every_days else 0
    record_event(session, actor=actor, school_id=school_id, action="consent_round.reminders",
                 object_type="consent_round", object_id=rnd.id,
                 details={"every_days": every_days, "max": rnd.reminder_max}, now=now)
    return rnd


def open_round_for(session: Session, school_id: int, on: date) -> ConsentRound | None:
    """The open mailing of the school year containing ``on``."""
    return session.scalar(
        select(ConsentRound).join(SchoolYear, SchoolYear.id == ConsentRound.school_year_id)
        .where(ConsentRound.school_id == school_id, ConsentRound.closed_at.is_(None),
               SchoolYear.starts_on <= on, SchoolYear.ends_on >= on)
        .order_by(ConsentRound.id.desc()).limit(1)
    )


def _open_round_or_refuse(session: Session, school_id: int, today: date) -> ConsentRound:
    rnd = open_round_for(session, school_id, today)
    if rnd is None:
        raise InvalidState("There is no open consent round for this school year; open one first.")
    return rnd


def add_newcomers(session: Session, *, actor: Actor, school_id: int, round_id: int, ctx: LinkContext,
                  now: datetime) -> RoundSummary:
    """People at school without a link this year (imported after the mailing opened) join it and are mailed."""
    rnd = session.get(ConsentRound, round_id)
    school = session.get(School, school_id)
    if rnd is None or school is None or rnd.school_id != school_id:
        raise NotFound("No such round.")
    if rnd.closed_at is not None:
        raise InvalidState("This round is closed; newcomers join the open round.")
    summary = RoundSummary(rnd)
    today = local_date(now)
    people = active_people(session, school_id, today)
    with_link = set(session.scalars(
        select(ConsentLink.person_id).join(ConsentRound, ConsentRound.id == ConsentLink.round_id)
        .where(ConsentRound.school_year_id == rnd.school_year_id, ConsentLink.school_id == school_id,
               ConsentLink.revoked_at.is_(None))))
    newcomers = [p for p in people if p.id not in with_link]
    for person in newcomers:
        _reach(session, ctx, school, rnd, person, today, now, summary, mail=True)
    if newcomers:
        record_event(session, actor=actor, school_id=school_id, action="consent_round.newcomers",
                     object_type="consent_round", object_id=rnd.id,
                     subject_ids=[p.id for p in newcomers],
                     details={"links_made": summary.links, "messages": summary.messages}, now=now)
    return summary


def send_person_links(session: Session, *, actor: Actor, school_id: int, person_id: int, ctx: LinkContext,
                      now: datetime) -> RoundSummary:
    """Send one person's year link(s) to whoever signs for them today, through the open mailing."""
    person = session.get(Person, person_id)
    school = session.get(School, school_id)
    if person is None or school is None or person.school_id != school_id or person.erased_at is not None:
        raise NotFound("No such person.")
    today = local_date(now)
    if person.left_on is not None and person.left_on <= today:
        raise InvalidState("This person has left the school; no link is sent.")
    rnd = _open_round_or_refuse(session, school_id, today)
    summary = RoundSummary(rnd)
    links = _reach(session, ctx, school, rnd, person, today, now, summary, mail=True)
    record_event(session, actor=actor, school_id=school_id, action="consent_link.send",
                 object_type="person", object_id=person.id, subject_ids=[person.id],
                 details={"links": [lk.id for lk in links], "messages": summary.messages}, now=now)
    return summary


def resend_link(session: Session, *, actor: Actor, school_id: int, link_id: int, ctx: LinkContext,
                now: datetime) -> bool:
    """Mail a link again (e.g. after fixing an e-mail address); False when there is no address."""
    link = session.get(ConsentLink, link_id)
    school = session.get(School, school_id)
    if link is None or school is None or link.school_id != school_id:
        raise NotFound("No such link.")
    if link.revoked_at is not None or link.expires_at <= now:
        raise InvalidState("This link no longer works; send the person a new one.")
    queued = queue_link_mail(session, ctx, school, link, "invitation", now) is not None
    record_event(session, actor=actor, school_id=school_id, action="consent_link.resend",
                 object_type="consent_link", object_id=link.id, subject_ids=[link.person_id],
                 details={"queued": queued}, now=now)
    return queued


def reminder_due(link: ConsentLink, rnd: ConsentRound, now: datetime) -> bool:
    """The school's schedule: every N days since the link was last mailed, at most M reminders."""
    if not rnd.reminder_every_days or link.reminders_sent >= rnd.reminder_max:
        return False
    last = link.last_sent_at or link.created_at
    return last <= now - timedelta(days=rnd.reminder_every_days)


def send_reminders(session: Session, *, school_id: int, round_id: int, ctx: LinkContext,
                   now: datetime) -> int:
    """Remind the signers who have not answered this year, as the mailing's schedule says; idempotent."""
    rnd = session.get(ConsentRound, round_id)
    school = session.get(School, school_id)
    if rnd is None or school is None or rnd.school_id != school_id:
        raise NotFound("No such round.")
    if rnd.closed_at is not None or not rnd.reminder_every_days:
        return 0
    today = local_date(now)
    people = active_people(session, school_id, today)
    answered = answered_people(session, rnd.school_year_id, [p.id for p in people])
    sent = 0
    reminded: list[int] = []
    for person in people:
        if person.id in answered:
            continue
        signers = signers_of(person, today)
        targets: list[Guardian | None] = [None] if signers.self_signs else list(signers.guardians)
        for guardian in targets if signers.reachable else []:
            # Only links already sent are reminded; a newcomer's first mail is add_newcomers'.
            link = year_link(session, rnd.school_year_id, person.id, guardian.id if guardian else None, now)
            if link is None or not reminder_due(link, rnd, now) or recipient_address(link) is None:
                continue
            queue_link_mail(session, ctx, school, link, "reminder", now)
            link.reminders_sent += 1
            sent += 1
            reminded.append(person.id)
    if sent:
        record_event(session, actor=Actor.system("consent-reminders"), school_id=school_id,
                     action="consent_round.remind", object_type="consent_round", object_id=rnd.id,
                     subject_ids=sorted(set(reminded)), details={"messages": sent}, now=now)
    return sent


def round_links(session: Session, round_id: int, group: str | None = None,
                limit: int = 1000) -> list[ConsentLink]:
    """Every link of the mailing's school year (a link is sent by several mailings)."""
    rnd = session.get(ConsentRound, round_id)
    if rnd is None:
        return []
    stmt = (select(ConsentLink).join(Person, Person.id == ConsentLink.person_id)
            .join(ConsentRound, ConsentRound.id == ConsentLink.round_id)
            .options(selectinload(ConsentLink.person), selectinload(ConsentLink.guardian))
            .where(ConsentRound.school_year_id == rnd.school_year_id,
                   ConsentLink.school_id == rnd.school_id))
    if group:
        stmt = stmt.where(Person.group_name == group)
    return list(session.scalars(stmt.order_by(Person.group_name, Person.last_name, ConsentLink.id).limit(limit)))


def current_form(session: Session, link: ConsentLink) -> ConsentForm:
    """The form a link opens: the newest version of its school year (links outlive form versions)."""
    return latest_form(session, link.round.school_year_id) or link.round.form
