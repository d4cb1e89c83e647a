"""Tell the school's PR officers that takedowns wait for them (issue 8: "takedowns reach PR").

Runs inside the withdrawal's transaction (see takedown.on_purposes_withdrawn):
the messages go into the outbox with the takedown tasks, so a withdrawal
never opens a task that nobody hears about, and a rolled-back withdrawal
sends nothing. The mail names channel, album and date but not the child:
e-mail is less protected than the app, and the takedown page shows who.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.config import ConfigError, public_base_url
from consentflow.consent.outbox import queue_message, render_message
from consentflow.models import Membership, OutboxMessage, School, TakedownTask, User

TAKEDOWNS_PATH = "/publish/takedowns"  # publish.takedowns; a test checks the two agree


def pr_officers(session: Session, school_id: int) -> list[User]:
    """Active users with the PR role in this school, each once."""
    return list(session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.school_id == school_id, Membership.role == "pr", User.active.is_(True))
        .distinct().order_by(User.id)))


def takedown_items(tasks: Sequence[TakedownTask]) -> list[dict[str, object]]:
    """What the mail lists per task; the template words it in the officer's language."""
    return [{"channel": t.publication.purpose, "where": t.publication.channel_note or "",
             "album": t.publication.photo.album.title, "published_at": t.publication.published_at}
            for t in tasks]


def notify_pr_officers(session: Session, *, school_id: int, tasks: Sequence[TakedownTask],
                       now: datetime) -> list[OutboxMessage]:
    """Queue one message per PR officer for newly opened takedowns, in their language."""
    if not tasks:
        return []
    school = session.get(School, school_id)
    assert school is not None
    try:
        url = public_base_url(current_app.config) + TAKEDOWNS_PATH
    except ConfigError:
        # A takedown must never fail on a setting: the mail then names the page without its address.
        url = ""
    languages = current_app.config["LANGUAGES"]
    messages = []
    for officer in pr_officers(session, school_id):
        locale = officer.locale if officer.locale and officer.locale in languages else (school.locale or "nl")
        subject, body = render_message("publish/email/takedown.txt", locale, school=school,
                                       officer=officer, count=len(tasks), url=url,
                                       items=takedown_items(tasks))
        messages.append(queue_message(session, school_id=school_id, to_address=officer.email,
                                      subject=subject, body=body, now=now))
    return messages
