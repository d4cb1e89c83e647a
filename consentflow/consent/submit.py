"""Answers given on the public consent page, recorded as digital records with evidence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor
from consentflow.consent.family_mail import queue_confirmation
from consentflow.consent.links import LinkContext
from consentflow.consent.rounds import current_form
from consentflow.consent.service import record_consent
from consentflow.models import ConsentForm, ConsentLink, ConsentRecord


@dataclass(frozen=True)
class Submission:
    record: ConsentRecord
    duplicate: bool  # the same page was posted before; nothing new was recorded


def canonical_evidence(link: ConsentLink, form: ConsentForm, decisions: dict[str, bool], action: str,
                       user_agent: str, submission_nonce: str, now: datetime) -> bytes:
    """The digital evidence: what was answered, through which link, with what, when."""
    payload = {
        "kind": "consentflow.digital-consent.v1",
        "link_id": link.id, "round_id": link.round_id, "person_id": link.person_id,
        "guardian_id": link.guardian_id, "form_id": form.id,
        "form_version": form.version, "school_year_id": form.school_year_id,
        "action": action, "decisions": decisions, "user_agent": user_agent[:500],
        "submission": submission_nonce, "submitted_at": now.isoformat(),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def find_submission(session: Session, submission_nonce: str) -> ConsentRecord | None:
    """The record made from one submitted page, if any."""
    return session.scalar(select(ConsentRecord).where(ConsentRecord.submission_nonce == submission_nonce))


def submit_via_link(session: Session, *, link: ConsentLink, decisions: dict[str, bool], action: str,
                    user_agent: str, submission_nonce: str, storage_dir: str, ctx: LinkContext | None,
                    now: datetime) -> Submission:
    """Record the answer of a link's signer on the year's current form; a repeated page records once.

    The confirmation mail carries the same link, so the family can change or
    withdraw from it.
    """
    prior = find_submission(session, submission_nonce)
    if prior is not None and prior.person_id == link.person_id:
        return Submission(prior, True)
    form = current_form(session, link)
    decisions = {purpose: decisions.get(purpose) is True for purpose in form.purposes}
    if action == "withdraw":
        decisions = {purpose: False for purpose in form.purposes}
    actor = Actor.system(f"consent-link:{link.id}")
    evidence = canonical_evidence(link, form, decisions, action, user_agent, submission_nonce, now)
    # A race of two identical posts ends in an IntegrityError on submission_nonce;
    # the boundary rolls back and answers with find_submission (see public_views).
    record = record_consent(
        session, actor=actor, person_id=link.person_id, school_year_id=form.school_year_id,
        form_id=form.id, decisions=decisions,
        signer_kind="guardian" if link.guardian_id else "self",
        signer_guardian_id=link.guardian_id, signer_name=None, method="digital",
        signed_at=now, evidence=evidence, evidence_filename="submission.json",
        storage_dir=storage_dir, now=now, evidence_note=f"Digital consent link #{link.id}",
        submission_nonce=submission_nonce)
    link.last_used_at = now
    queue_confirmation(session, ctx, link, record, action, now)
    return Submission(record, False)
