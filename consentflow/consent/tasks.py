"""Worker tasks of the consent year: newcomers, reminders and own links at 16, once a day.

Thin: each school's open mailing is handed to the services in
``consent.rounds`` and ``consent.turning16``; all are idempotent (a link is
made once, a reminder is due once per period), so a retried or doubled run
sends nothing twice. The outbox is sent right after when SMTP is configured.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor
from consentflow.consent.links import LinkContext
from consentflow.consent.rounds import add_newcomers, open_round_for, send_reminders
from consentflow.consent.signer import local_date
from consentflow.consent.turning16 import invite_turned_sixteen
from consentflow.jobs import job
from consentflow.models import School

log = logging.getLogger("consentflow.consent.tasks")

# 04:00 UTC is 05:00 or 06:00 in the Netherlands: before the school day, after midnight school time.
DAILY_HOUR_UTC = 4


def run_consent_day(session: Session, ctx: LinkContext, now: datetime) -> dict[str, int]:
    """One day of the consent year for every school: newcomers join, reminders go out, 16-year-olds get their link."""
    totals = {"newcomers": 0, "reminders": 0, "own_links": 0}
    today = local_date(now)
    for school_id in session.scalars(select(School.id).order_by(School.id)):
        rnd = open_round_for(session, school_id, today)
        if rnd is None:
            continue
        joined = add_newcomers(session, actor=Actor.system("consent-day"), school_id=school_id,
                               round_id=rnd.id, ctx=ctx, now=now)
        totals["newcomers"] += joined.links
        totals["own_links"] += len(invite_turned_sixteen(session, school_id=school_id, ctx=ctx, now=now))
        totals["reminders"] += send_reminders(session, school_id=school_id, round_id=rnd.id, ctx=ctx, now=now)
    return totals


@job("consent.day", retries=2, retry_delay=600, daily_at_hour=DAILY_HOUR_UTC)
def consent_day_job() -> dict[str, Any]:
    """Worker task: run_consent_day with the app's public address, then deliver the outbox."""
    from flask import current_app

    from consentflow.config import public_base_url
    from consentflow.extensions import db
    from consentflow.jobs import enqueue
    from consentflow.models import utcnow

    ctx = LinkContext(public_base_url(current_app.config), current_app.config["SECRET_KEY"])
    totals = run_consent_day(db.session, ctx, utcnow())
    log.info("consent day: %s", totals)
    if current_app.config.get("MAIL_SERVER"):
        db.session.commit()  # the messages exist before the sender looks for them
        enqueue("outbox.send")
    return totals
