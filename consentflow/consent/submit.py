"""Answers given on the public consent page, recorded as digital records with evidence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor
from consentflow.consent.outbox import queue_message, render_message
from consentflow.consent.purposes import purpose_label
from consentflow.consent.service import record_consent
from consentflow.models import ConsentLink, ConsentRecord, School


@dataclass(frozen=True)
class Submission:
    record: ConsentRecord
    duplicate: bool  # the same page was posted before; nothing new was recorded


def canonical_evidence(link: ConsentLink, decisions: dict[str, bool], action: str, user_agent: str,
                       submission_nonce: str, now: datetime) -> bytes:
    """The digital evidence: what was answered, through which link, with what, when."""
    payload = {
        "kind": "consentflow.digital-consent.v1",
        "link_id": link.id, "round_id": link.round_id, "person_id": link.person_id,
        "guardian_id": link.guardian_id, "form_id": link.round.form_id,
        "form_version": link.round.form.version, "school_year_id": link.round.school_year_id,
        "action": action, "decisions": decisions, "user_agent": user_agent[:500],
        "submission": submission_nonce, "submitted_at": now.isoformat(),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def find_submission(session: Session, submission_nonce: str) -> ConsentRecord | None:
    """The record made from one submitted page, if any."""
    return session.scalar(select(ConsentRecord).where(ConsentRecord.submission_nonce == submission_nonce))


def submit_via_link(session: Session, *, link: ConsentLink, decisions: dict[str, bool], action: str,
                    user_agent: str, submission_nonce: str, storage_dir: str, now: datetime) -> Submission:
    """Record the answer of a link's signer; a repeated submission of one page records once."""
    prior = find_submission(session, submission_nonce)
    if prior is not None and prior.person_id == link.person_id:
        return Submission(prior, True)
    form = link.round.form
    if action == "withdraw":
        decisions = {purpose: False for purpose in form.purposes}
    actor = Actor.system(f"consent-link:{link.id}")
    evidence = canonical_evidence(link, decisions, action, user_agent, submission_nonce, now)
    # A race of two identical posts ends in an IntegrityError on submission_nonce;
    # the boundary rolls back and answers with find_submission (see public_views).
    record = record_consent(
        session, actor=actor, person_id=link.person_id, school_year_id=link.round.school_year_id,
        form_id=form.id, decisions=decisions,
        signer_kind="guardian" if link.guardian_id else "self",
        signer_guardian_id=link.guardian_id, signer_name=None, method="digital",
        signed_at=now, evidence=evidence, evidence_filename="submission.json",
        storage_dir=storage_dir, now=now, evidence_note=f"Digital consent link #{link.id}",
        submission_nonce=submission_nonce)
    link.last_used_at = now
    _queue_confirmation(session, link, record, now)
    return Submission(record, False)


def _queue_confirmation(session: Session, link: ConsentLink, record: ConsentRecord, now: datetime) -> None:
    to = link.guardian.email if link.guardian else link.person.email
    if not to:
        return
    school = session.get(School, link.school_id)
    assert school is not None
    subject, body = render_message("consent/email/confirmation.txt", school.locale, school=school,
                                   person=link.person, record=record, label=purpose_label,
                                   signed_on=record.signed_at.date())
    queue_message(session, school_id=school.id, to_address=to, subject=subject, body=body, now=now)
