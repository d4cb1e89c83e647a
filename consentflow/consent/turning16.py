"""Turning 16: the student gets their own year link; the guardian's link stops showing their choices.

Who signs is ``signer.signers_of`` (one definition); the guardian's link is
refused from the 16th birthday by ``self_service.check_guardian_link``. The
daily task invites every student who signs for themself but has no own link
this school year; those without an e-mail address are listed for a letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.consent.family_mail import queue_link_mail
from consentflow.consent.links import LinkContext, ensure_year_link, year_link
from consentflow.consent.rounds import active_people, open_round_for
from consentflow.consent.signer import local_date, signers_of
from consentflow.errors import InvalidState, NotFound, SignerRuleViolation
from consentflow.models import ConsentLink, Person, School


@dataclass(frozen=True)
class OwnLink:
    person: Person
    link: ConsentLink
    mailed: bool  # False: no e-mail address, print a letter


def invite_self_signer(session: Session, *, actor: Actor, school_id: int, person_id: int, ctx: LinkContext,
                       now: datetime) -> OwnLink:
    """Send a student of 16 or older their own year link (made now if they have none)."""
    person = session.get(Person, person_id)
    school = session.get(School, school_id)
    if person is None or school is None or person.school_id != school_id or person.erased_at is not None:
        raise NotFound("No such person.")
    today = local_date(now)
    signers = signers_of(person, today)
    if not signers.self_signs:
        raise SignerRuleViolation("%(name)s is not 16 yet; a guardian signs.", name=person.full_name)
    rnd = open_round_for(session, school_id, today)
    if rnd is None:
        raise InvalidState("There is no open consent round for this school year; open one first.")
    link, _created = ensure_year_link(session, rnd, person, None, now)
    mailed = queue_link_mail(session, ctx, school, link, "own_link", now) is not None
    record_event(session, actor=actor, school_id=school_id, action="consent_link.own_link",
                 object_type="consent_link", object_id=link.id, subject_ids=[person.id],
                 details={"queued": mailed}, now=now)
    return OwnLink(person, link, mailed)


def invite_turned_sixteen(session: Session, *, school_id: int, ctx: LinkContext, now: datetime) -> list[OwnLink]:
    """Daily: students who sign for themselves today (school time) and have no own link get one; idempotent."""
    today = local_date(now)
    rnd = open_round_for(session, school_id, today)
    school = session.get(School, school_id)
    if rnd is None or school is None:
        return []  # links are sent only while the school runs a mailing this year
    invited = []
    for person in active_people(session, school_id, today):
        if person.kind != "student" or not signers_of(person, today).self_signs:
            continue
        if year_link(session, rnd.school_year_id, person.id, None, now) is not None:
            continue
        link, _created = ensure_year_link(session, rnd, person, None, now)
        mailed = queue_link_mail(session, ctx, school, link, "own_link", now) is not None
        invited.append(OwnLink(person, link, mailed))
    if invited:
        record_event(session, actor=Actor.system("turned-16"), school_id=school_id,
                     action="consent_link.own_link", object_type="consent_round", object_id=rnd.id,
                     subject_ids=[i.person.id for i in invited],
                     details={"links": [i.link.id for i in invited],
                              "mailed": [i.link.id for i in invited if i.mailed]}, now=now)
    return invited
