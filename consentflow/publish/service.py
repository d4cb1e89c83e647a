"""Approve and publish a photo for one purpose (SPEC §4.5-4.6), pr only.

Publication is the moment the product keeps its promise, so it checks
everything again instead of trusting the approval: consent is looked up
anew (a change since approval sends the photo back to review), the
derivative is rendered from the original with every face that may not be
shown made irrecoverable, and the project's own engine runs on the result:
if it still recognises anyone who was blurred, nothing is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.errors import ConsentMissing, InvalidInput, InvalidState, NotFound
from consentflow.faces.engine import EngineSettings
from consentflow.models import ConsentRecord, Photo, PhotoPurpose, Publication, ReferenceFace, School
from consentflow.models.consent import CHANNELS
from consentflow.photos.imaging import is_video_type
from consentflow.photos.storage import Storage, content_key
from consentflow.publish.redact import load_upright, plan_redaction, render_derivative
from consentflow.publish.verify import check_derivative
from consentflow.review.rules import (
    FaceDecision,
    decide_photo,
    people_names,
    planned,
    purpose_key,
    resolve_faces,
)
from consentflow.review.service import (
    REVIEWABLE_STATES,
    check_version,
    get_photo,
    purpose_row,
    void_unpublished_approvals,
)

UNKNOWN_LABEL = "unknown, blurred"
VIDEO_REFUSED = ("This is a video. Faces in videos are not detected or blurred, so a video "
                 "cannot be approved or published here; review it by hand, or reject it.")


class PublicationRefused(ConsentMissing):
    """Publication was refused; the photo may have been sent back to review (commit that)."""


def _channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise InvalidInput("Unknown purpose.")
    return channel


def _refuse_video(photo: Photo) -> None:
    """Deny by default: the derivative path only knows how to redact still images."""
    if is_video_type(photo.media_type):
        raise InvalidState(VIDEO_REFUSED)


def _decisions(session: Session, photo: Photo, channel: str, on: datetime) -> list[FaceDecision]:
    return decide_photo(session, resolve_faces(session, photo.id), [channel], on.date())[channel]


def _block_share_reason(share: float, limit: float) -> str:
    return (f"A face that must be blurred covers {share:.0%} of the photo (school limit "
            f"{limit:.0%}): blurring would leave the photo's subject hidden.")


def approve_purpose(
    session: Session,
    *,
    actor: Actor,
    school_id: int,
    photo_id: int,
    channel: str,
    expected_version: int | None,
    now: datetime,
) -> PhotoPurpose:
    """Approve a photo for one purpose; a too-large blurred face blocks it instead.

    Returns the purpose row: status "approved", or "blocked" with the reason.
    """
    channel = _channel(channel)
    photo = get_photo(session, school_id, photo_id)
    _refuse_video(photo)
    if photo.state not in REVIEWABLE_STATES:
        raise InvalidState("Only reviewed photos can be approved.")
    check_version(session, photo, expected_version)
    pp = purpose_row(session, photo.id, channel)
    if pp.status == "blocked":
        raise InvalidState("This photo is blocked for this purpose; unblock it first.")
    school = session.get(School, school_id)
    assert school is not None
    decisions = _decisions(session, photo, channel, now)
    plan = plan_redaction(planned(decisions), photo.width, photo.height, school.block_face_share)
    shown = [d.resolved.person_id for d in decisions if d.decision == "show" and d.resolved.person_id]
    if plan.blocked:
        pp.status, pp.reason = "blocked", _block_share_reason(plan.largest_blur_share,
                                                              school.block_face_share)
        action = "photo.auto_blocked"
    else:
        pp.status, pp.reason = "approved", None
        if photo.state == "needs_review":
            photo.state = "approved"
            photo.failure_reason = None
        action = "photo.approved"
    pp.decided_by_id, pp.decided_at = actor.id, now
    session.flush()
    record_event(session, actor=actor, action=action, object_type="photo", object_id=photo.id,
                 school_id=school_id, subject_ids=shown, now=now, details={
                     "purpose": channel, "shown": len(shown),
                     "blurred": sum(1 for d in decisions if d.decision != "show")})
    return pp


def _consent_changed_since(session: Session, person_ids: set[int], since: datetime) -> bool:
    if not person_ids:
        return False
    newer = session.scalar(select(ConsentRecord.id).where(
        ConsentRecord.person_id.in_(person_ids), ConsentRecord.recorded_at > since).limit(1))
    return newer is not None


def _send_back(session: Session, actor: Actor, photo: Photo, channel: str, reason: str,
               now: datetime) -> PublicationRefused:
    void_unpublished_approvals(session, photo, reason, now)
    photo.state = "needs_review" if photo.state == "approved" else photo.state
    photo.failure_reason = reason
    session.flush()
    record_event(session, actor=actor, action="photo.publication_refused", object_type="photo",
                 object_id=photo.id, school_id=photo.school_id,
                 details={"purpose": channel, "reason": reason}, now=now)
    return PublicationRefused(reason)


def _references(session: Session, person_ids: set[int], cipher: Any) -> list[tuple[int, Any]]:
    if cipher is None or not person_ids:
        return []
    rows = session.scalars(select(ReferenceFace).where(ReferenceFace.person_id.in_(person_ids)))
    return [(r.person_id, np.asarray(cipher.decrypt(r.encoding_encrypted))) for r in rows]


def _snapshot(session: Session, decisions: Sequence[FaceDecision]) -> list[dict[str, Any]]:
    names = people_names(session, [d.resolved.person_id for d in decisions if d.resolved.person_id])
    entries = []
    for d in decisions:
        r = d.resolved
        entries.append({
            "face_id": r.face.id,
            "box": [r.box.left, r.box.top, r.box.right, r.box.bottom],
            "person_id": r.person_id,
            "name": (names.get(r.person_id, "") if r.person_id
                     else ("external adult" if r.external else UNKNOWN_LABEL)),
            "decision": d.decision,
            "basis": d.basis,
            "consent_record_id": d.consent_record_id,
            "review_id": r.review.id if r.review else None,
            "note": r.review.note if r.external and r.review else None,
        })
    return entries


def publish_photo(
    session: Session,
    *,
    actor: Actor,
    school_id: int,
    photo_id: int,
    channel: str,
    storage: Storage,
    now: datetime,
    cipher: Any = None,
    settings: EngineSettings | None = None,
    channel_note: str | None = None,
) -> Publication:
    """Publish an approved photo for one purpose with consent re-checked and the result verified.

    Raises PublicationRefused when consent changed since approval or a
    blurred person is still recognisable; the photo is then back in review
    (flushed: the caller commits so the reason is kept).
    """
    channel = _channel(channel)
    photo = get_photo(session, school_id, photo_id)
    _refuse_video(photo)
    pp = purpose_row(session, photo.id, channel)
    if pp.status != "approved" or photo.state not in {"approved", "published"}:
        raise InvalidState("Approve the photo for this purpose before publishing it.")
    if photo.storage_key is None:
        raise InvalidState("The original of this photo no longer exists.")
    check_version(session, photo, None)
    approved_at = pp.decided_at or now
    decisions = _decisions(session, photo, channel, now)
    at_approval = _decisions(session, photo, channel, approved_at)
    identified = {d.resolved.person_id for d in decisions if d.resolved.person_id}
    if _consent_changed_since(session, identified, approved_at) or [
        (d.decision, d.consent_record_id) for d in decisions
    ] != [(d.decision, d.consent_record_id) for d in at_approval]:
        raise _send_back(session, actor, photo, channel,
                         "Consent of a person in this photo changed since approval; "
                         "review the photo again.", now)
    school = session.get(School, school_id)
    assert school is not None
    plan = plan_redaction(planned(decisions), photo.width, photo.height, school.block_face_share)
    if plan.blocked:
        raise InvalidState(_block_share_reason(plan.largest_blur_share, school.block_face_share))
    original = load_upright(storage.read(photo.storage_key))
    derivative = render_derivative(original, plan.blur)
    blurred_people = {
        pid for d in decisions if d.decision != "show"
        for pid in (d.resolved.person_id, d.resolved.suggested_person_id) if pid
    }
    check = check_derivative(original, derivative.image, plan.blur,
                             references=_references(session, blurred_people, cipher),
                             settings=settings)
    if not check.ok:
        raise _send_back(session, actor, photo, channel,
                         "A blurred person is still recognisable in the redacted photo; "
                         "block the photo for this purpose or draw a larger box.", now)
    key = storage.put_at(content_key(derivative.data, "deriv"), derivative.data)
    snapshot = _snapshot(session, decisions)
    publication = Publication(
        school_id=school_id, photo_id=photo.id, purpose=channel,
        channel_note=(channel_note or "").strip() or None, derivative_sha256=derivative.sha256,
        derivative_key=key, maker_credit=photo.album.maker or "", snapshot=snapshot,
        published_by_id=actor.id, published_at=now,
    )
    session.add(publication)
    photo.state = "published"
    photo.failure_reason = None
    session.flush()
    record_event(
        session, actor=actor, action="photo.published", object_type="publication",
        object_id=publication.id, school_id=school_id, now=now,
        subject_ids=[e["person_id"] for e in snapshot if e["person_id"]],
        details={"photo_id": photo.id, "purpose": channel, "sha256": derivative.sha256,
                 "faces": len(snapshot), "blurred": len(plan.blur),
                 "consent_records": sorted({e["consent_record_id"] for e in snapshot
                                            if e["consent_record_id"]}),
                 "faces_in_derivative": check.faces_in_derivative},
    )
    return publication


def preview_derivative(session: Session, *, school_id: int, photo_id: int, channel: str,
                       storage: Storage, now: datetime) -> bytes:
    """The redacted result as it would be published now (for the reviewer; not stored)."""
    channel = _channel(channel)
    photo = get_photo(session, school_id, photo_id)
    _refuse_video(photo)
    if photo.storage_key is None:
        raise InvalidState("The original of this photo no longer exists.")
    decisions = _decisions(session, photo, channel, now)
    blur = [d.resolved.box for d in decisions if d.decision != "show"]
    return render_derivative(storage.read(photo.storage_key), blur).data


def get_publication(session: Session, school_id: int, publication_id: int) -> Publication:
    publication = session.get(Publication, publication_id)
    if publication is None or publication.school_id != school_id:
        raise NotFound("Publication not found.")
    return publication


def publication_purpose_status(session: Session, photo_id: int) -> dict[str, PhotoPurpose]:
    rows = session.scalars(select(PhotoPurpose).where(PhotoPurpose.photo_id == photo_id))
    return {pp.purpose: pp for pp in rows}


def consent_purpose(channel: str) -> str:
    return purpose_key(_channel(channel))
