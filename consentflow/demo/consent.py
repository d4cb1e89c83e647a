"""Demo consent: the current school year, its form, a round, and records for the demo students.

Idempotent: a second run finds the year, the form, the open round and the
records and adds nothing. The mix shows every state on the dashboards: a
guardian who said yes (except press), a student who turned 16 after their
guardian signed, an adult student who signed themself, and a family still to remind.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor
from consentflow.consent.links import link_context_from
from consentflow.consent.rounds import open_round, open_round_for
from consentflow.consent.service import record_consent
from consentflow.consent.signer import SCHOOL_TZ, local_date, signs_for_self
from consentflow.consent.years import ensure_default_form, ensure_school_year
from consentflow.models import ConsentRecord, Person, School, utcnow

# student number -> purposes said yes to (None: no answer yet)
DEMO_ANSWERS: dict[str, set[str] | None] = {
    "100001": {"website.photo", "website.video", "social_media.photo", "newsletter.photo",
               "prospectus.photo", "parent_portal.photo", "parent_portal.video", "face_matching"},
    "100002": {"website.photo", "newsletter.photo", "parent_portal.photo", "face_matching"},
    "100003": {"website.photo", "parent_portal.photo", "face_matching"},
    "100004": None,
}


def load_demo_consent(session: Session, school: School, actor: Actor, now: datetime | None = None) -> None:
    now = now or utcnow()
    today = local_date(now)
    year = ensure_school_year(session, actor=actor, school_id=school.id, on=today, now=now)
    # The demo form exists from the start of the year: records may not predate their form version.
    form_made = min(now, datetime.combine(year.starts_on, time(9, 0), SCHOOL_TZ))
    form = ensure_default_form(session, actor=actor, school_id=school.id, school_year_id=year.id,
                               now=form_made)
    # Signed two weeks into the year (or yesterday, early in the year).
    signed_on = min(year.starts_on + timedelta(days=14), today - timedelta(days=1))
    signed_at = min(datetime.combine(signed_on, time(12, 0), SCHOOL_TZ), now)
    for number, yes in DEMO_ANSWERS.items():
        person = session.scalar(select(Person).where(Person.school_id == school.id, Person.external_id == number))
        if person is None or yes is None:
            continue
        exists = session.scalar(select(ConsentRecord.id).where(
            ConsentRecord.person_id == person.id, ConsentRecord.school_year_id == year.id).limit(1))
        if exists:
            continue
        self_signer = signs_for_self(person, local_date(signed_at))
        guardian = None if self_signer or not person.guardians else person.guardians[0]
        if not self_signer and guardian is None:
            continue
        record_consent(
            session, actor=actor, person_id=person.id, school_year_id=year.id, form_id=form.id,
            decisions={p: p in yes for p in form.purposes},
            signer_kind="self" if self_signer else "guardian",
            signer_guardian_id=guardian.id if guardian else None, signer_name=None, method="in_person",
            signed_at=signed_at, evidence=None, evidence_filename=None,
            storage_dir=current_app.config["STORAGE_DIR"], now=now,
            evidence_note="Demo data: answered at the school's information evening.")
    if open_round_for(session, school.id, today) is None:
        open_round(session, actor=actor, school_id=school.id, school_year_id=year.id, form_id=form.id,
                   ctx=link_context_from(current_app.config), reminder_every_days=7, reminder_max=2,
                   now=now)
