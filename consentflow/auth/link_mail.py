"""Sending invitation, reset and second-factor set-up links through the outbox (kept, then sent over SMTP)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from consentflow.audit.service import Actor
from consentflow.auth.links import issue_link, mail_school_id
from consentflow.consent.outbox import queue_message, render_message
from consentflow.errors import InvalidState
from consentflow.models import School, User

TEMPLATES = {"invite": "auth/email/invite.txt", "reset": "auth/email/reset.txt",
             "enrol": "auth/email/enrol.txt"}


def send_link(session: Session, *, actor: Actor, user: User, purpose: str, secret_key: str,
              valid_for: timedelta, link_url: str, now: datetime, school_id: int | None = None) -> None:
    """Issue a link for the user and put the mail carrying it in the outbox.

    ``link_url`` is the address of the link page with ``{token}`` where the token goes.
    """
    school_id = school_id or mail_school_id(session, user)
    if school_id is None:
        raise InvalidState("This account has no school to send mail from.")
    issued = issue_link(session, actor=actor, user=user, purpose=purpose, secret_key=secret_key,
                        valid_for=valid_for, now=now, school_id=school_id)
    school = session.get(School, school_id)
    locale = user.locale or (school.locale if school else "nl")
    hours = max(1, round(valid_for.total_seconds() / 3600))
    subject, body = render_message(TEMPLATES[purpose], locale, user=user, school=school,
                                   url=link_url.replace("{token}", issued.token), hours=hours)
    queue_message(session, school_id=school_id, to_address=user.email, subject=subject, body=body,
                  now=now)
