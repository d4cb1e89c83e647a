"""Family mail: the personal-link invitation, reminder, own link at 16, and the confirmation.

Written as a Dutch school writes to families: in the school's language, or
the recipient's when they chose one on their page, with dates in the
school's time zone written out ("1 december 2026"), and always with the
personal link, so every mail lets the family change or withdraw.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from babel.dates import format_date
from sqlalchemy.orm import Session

from consentflow.consent.links import LinkContext
from consentflow.consent.outbox import queue_message, render_mail
from consentflow.consent.purposes import purpose_label
from consentflow.consent.signer import local_date
from consentflow.models import ConsentLink, ConsentRecord, OutboxMessage, School

# invitation: a mailing or a per-person send; reminder: the school's schedule;
# own_link: a student who turned 16 gets their own link.
LINK_KINDS = ("invitation", "reminder", "own_link")


def mail_language(link: ConsentLink, school: School) -> str:
    """The recipient's language when known, else the school's."""
    return link.language or school.locale or "nl"


def long_date(day: date, locale: str) -> str:
    return format_date(day, format="long", locale=locale)


def last_valid_day(link: ConsentLink) -> date:
    """The last school day the link works on ("until and including"): it expires at the midnight after."""
    return local_date(link.expires_at - timedelta(seconds=1))


def recipient_address(link: ConsentLink) -> str | None:
    """Where this link's mail goes: the guardian's address, or the person's own."""
    return (link.guardian.email if link.guardian else link.person.email) or None


def queue_link_mail(session: Session, ctx: LinkContext, school: School, link: ConsentLink, kind: str,
                    now: datetime) -> OutboxMessage | None:
    """Put the link's mail in the outbox; None when there is no address (a letter is needed)."""
    if kind not in LINK_KINDS:
        raise ValueError(kind)
    to = recipient_address(link)
    if not to:
        return None
    locale = mail_language(link, school)
    subject, text, html = render_mail(
        "consent/email/personal_link", locale, kind=kind, school=school, person=link.person,
        guardian=link.guardian, url=ctx.url(link), year=link.round.school_year.label,
        valid_until=long_date(last_valid_day(link), locale))
    link.last_sent_at = now
    return queue_message(session, school_id=school.id, to_address=to, subject=subject, body=text,
                         html=html, now=now)


def queue_confirmation(session: Session, ctx: LinkContext | None, link: ConsentLink, record: ConsentRecord,
                       action: str, now: datetime) -> OutboxMessage | None:
    """Confirm an answer given through the link, with the answers and the same link.

    Without a public address (a misconfigured install) the answer still
    counts and is confirmed, only without the link.
    """
    to = recipient_address(link)
    if not to:
        return None
    school = session.get(School, link.school_id)
    assert school is not None
    locale = mail_language(link, school)
    # Labels are translated while the mail renders, in the mail's language.
    answers = list(record.decisions.items())
    subject, text, html = render_mail(
        "consent/email/confirmation", locale, school=school, person=link.person, guardian=link.guardian,
        answers=answers, label=purpose_label, withdrawn=action == "withdraw", url=ctx.url(link) if ctx else "",
        signed_on=long_date(local_date(record.signed_at), locale))
    return queue_message(session, school_id=school.id, to_address=to, subject=subject, body=text,
                         html=html, now=now)
