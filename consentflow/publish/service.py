"""Approve and publish a photo for one purpose (SPEC §4.5-4.6), pr only.

Publication is the moment the product keeps its promise, so it checks
everything again instead of trusting the approval: consent is looked up
anew (a change since approval sends the photo back to review), the
derivative is rendered from the original with every face that may not be
shown made irrecoverable, and the project's own engine runs on the result:
if it still recognises anyone who was blurred, nothing is published.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.consent.effective import allows
from consentflow.errors import ConsentMissing, InvalidInput, InvalidState, NotFound
from consentflow.faces.engine import EngineSettings
from consentflow.models import ConsentRecord, Photo, PhotoPurpose, Publication, ReferenceFace, School
from consentflow.models.consent import CHANNELS, FACE_MATCHING
from consentflow.photos.decisions import consent_purpose
from consentflow.photos.derived import check_renderable
from consentflow.photos.imaging import is_video_type, load_upright
from consentflow.photos.storage import Storage, content_key
from consentflow.publish.redact import (
    PlannedFace,
    Redaction,
    plan_redaction,
    render_derivative,
)
from consentflow.publish.redaction import redaction_choices
from consentflow.publish.verify import Leak, PhotoFace, check_derivative
from consentflow.review.rules import (
    ChannelDecision,
    ResolvedFace,
    decide_channels,
    people_names,
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
VIDEO_PATH = "A video is published through its own render job, not as a photo."


# Why publication was refused, by code (stored on the purpose; the review page translates).
REFUSALS = {
    "consent_changed": "Consent of a person in this photo changed since approval; "
                       "review the photo again.",
    "leak": "A face in the redacted photo still shows someone who must be blurred.",
    "key_missing": "The face key is missing, so the blurred people's reference portraits "
                   "cannot be compared; nothing was published. Ask the administrator to "
                   "restore the key.",
    "reference_unreadable": "A reference portrait of a blurred person cannot be decrypted, so "
                            "the check cannot be completed; nothing was published. Ask the "
                            "administrator to check the face key.",
}
class ClaimLost(InvalidState):
    """A background run's claim was taken over by another worker; it records nothing."""


# A purpose may be published when approved (directly) or claimed by a background run.
PUBLISHABLE = frozenset({"approved", "publishing"})


class PublicationRefused(ConsentMissing):
    """Publication was refused; the photo may have been sent back to review (commit that)."""

    def __init__(self, message: str, *, code: str = "", leaks: tuple[Leak, ...] = (),
                 sent_back: bool = True) -> None:
        super().__init__(message)
        self.code, self.leaks, self.sent_back = code, leaks, sent_back


def planned(decisions: Sequence[ChannelDecision]) -> list[PlannedFace]:
    """The faces to redact for one channel, as the redaction planner takes them."""
    return [PlannedFace(d.resolved.box, d.decision) for d in decisions]


def _channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise InvalidInput("Unknown purpose.")
    return channel


def _check_renderable(photo: Photo) -> None:
    """A photo of impossible dimensions (from before the upload limits) is refused with its
    reason instead of failing in the encoder; a video is rendered by ``publish.video``."""
    if photo.storage_key is not None and not is_video_type(photo.media_type):
        check_renderable(photo)


def _refuse_video(photo: Photo) -> None:
    """The still-image derivative path: a video never goes through it."""
    if is_video_type(photo.media_type):
        raise InvalidState(VIDEO_PATH)
    _check_renderable(photo)


def _decisions(session: Session, photo: Photo, channel: str, on: datetime) -> list[ChannelDecision]:
    return decide_channels(session, resolve_faces(session, photo.id), [channel], on.date())[channel]


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
    _check_renderable(photo)
    if photo.state not in REVIEWABLE_STATES:
        raise InvalidState("Only reviewed photos can be approved.")
    check_version(session, photo, expected_version)
    pp = purpose_row(session, photo.id, channel)
    if pp.status == "blocked":
        raise InvalidState("This photo is blocked for this purpose; unblock it first.")
    if pp.status == "publishing":
        raise InvalidState("This photo is being published for this purpose; wait for the result.")
    school = session.get(School, school_id)
    assert school is not None
    decisions = _decisions(session, photo, channel, now)
    # The share rule is about a still image's subject; a face filling a video frame for a
    # moment does not make the video's subject hidden.
    plan = None if is_video_type(photo.media_type) else plan_redaction(
        planned(decisions), photo.width, photo.height, school.block_face_share)
    shown = [d.resolved.person_id for d in decisions if d.decision == "show" and d.resolved.person_id]
    if plan is not None and plan.blocked:
        pp.status, pp.reason = "blocked", _block_share_reason(plan.largest_blur_share,
                                                              school.block_face_share)
        action = "photo.auto_blocked"
    else:
        pp.status, pp.reason, pp.refusal = "approved", None, None
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


def _consent_changed_since(session: Session, person_ids: set[int], purposes: Sequence[str],
                           since: datetime) -> bool:
    """Did any answer to ``purposes`` of these people change after ``since``?

    Only the published purpose (and face matching, which decides who is
    recognised) counts: withdrawing social media leaves a website approval
    standing. Deny by default: any later record that answers one of them
    differently from the record in force at approval is a change.
    """
    if not person_ids:
        return False
    records = session.scalars(select(ConsentRecord).where(
        ConsentRecord.person_id.in_(person_ids)).order_by(ConsentRecord.id))
    before: dict[int, ConsentRecord] = {}
    for record in records:
        if record.recorded_at <= since:
            before[record.person_id] = record
            continue
        baseline = before.get(record.person_id)
        if any(allows(record, p) != allows(baseline, p) for p in purposes):
            return True
    return False


def release_claim(pp: PhotoPurpose) -> None:
    """End a background publication run: the purpose is approved again, the claim gone."""
    if pp.status == "publishing":
        pp.status = "approved"
    pp.publish_requested_at = pp.publish_started_at = None
    pp.publish_requested_by_id = None
    pp.publish_note = None


def _refusal_record(code: str, leaks: Sequence[Leak] = ()) -> dict[str, Any]:
    return {"code": code, "leaks": [{
        "face_id": leak.face_id, "box": [leak.box.left, leak.box.top, leak.box.right, leak.box.bottom],
        "reason": leak.reason, "person_id": leak.person_id, "distance": leak.distance,
    } for leak in leaks]}


def _send_back(session: Session, actor: Actor, photo: Photo, pp: PhotoPurpose, code: str,
               now: datetime, leaks: Sequence[Leak] = ()) -> PublicationRefused:
    """Refuse, void every unpublished approval and keep why (with the faces) on the purpose."""
    reason = REFUSALS[code]
    release_claim(pp)
    # A consent change is about this purpose only; a leak is about the faces, so every purpose.
    void_unpublished_approvals(session, photo, reason, now,
                               only=[pp.purpose] if code == "consent_changed" else None)
    # The refusal panel of the review page says it once, translated, with the faces.
    photo.failure_reason = None
    pp.reason, pp.refusal = None, _refusal_record(code, leaks)
    session.flush()
    record_event(session, actor=actor, action="photo.publication_refused", object_type="photo",
                 object_id=photo.id, school_id=photo.school_id, now=now,
                 details={"purpose": pp.purpose, "reason": reason, **_refusal_record(code, leaks)})
    return PublicationRefused(reason, code=code, leaks=tuple(leaks))


def _refuse_in_place(session: Session, actor: Actor, photo: Photo, pp: PhotoPurpose, code: str,
                     now: datetime) -> PublicationRefused:
    """Refuse without sending back to review: nothing about the faces is wrong."""
    release_claim(pp)
    pp.refusal = _refusal_record(code)
    session.flush()
    record_event(session, actor=actor, action="photo.publication_refused", object_type="photo",
                 object_id=photo.id, school_id=photo.school_id, now=now,
                 details={"purpose": pp.purpose, "reason": REFUSALS[code], "code": code})
    return PublicationRefused(REFUSALS[code], code=code, sent_back=False)


def _references(session: Session, person_ids: set[int], cipher: Any) -> list[tuple[int, Any]]:
    """The blurred people's reference encodings; raises KeyError when they cannot be read.

    Deny by default: a reference that exists but cannot be decrypted must stop
    publication, never silently shrink the check.
    """
    if not person_ids:
        return []
    rows = list(session.scalars(select(ReferenceFace).where(ReferenceFace.person_id.in_(person_ids))))
    if rows and cipher is None:
        raise KeyError("key_missing")
    try:
        return [(r.person_id, np.asarray(cipher.decrypt(r.encoding_encrypted), dtype=np.float64))
                for r in rows]
    except Exception as err:  # wrong key, damaged row: fail closed
        raise KeyError("reference_unreadable") from err


def _snapshot(session: Session, decisions: Sequence[ChannelDecision],
              how: Mapping[int, str]) -> list[dict[str, Any]]:
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
            "redaction": None if d.decision == "show" else how.get(r.face.id, "standard"),
        })
    return entries


def _planned(decisions: Sequence[ChannelDecision], how: dict[int, Redaction]) -> list[PlannedFace]:
    return [PlannedFace(d.resolved.box, d.decision, how.get(d.resolved.face.id, "standard"))
            for d in decisions]


def _check_faces(resolved: Sequence[ResolvedFace], decisions: Sequence[ChannelDecision],
                 ) -> tuple[list[PhotoFace], list[PhotoFace], list[PhotoFace]]:
    """Shown, blurred (with who they are or may be) and "not a face" boxes for the check."""
    shown, blurred = [], []
    for d in decisions:
        r = d.resolved
        if d.decision == "show":
            shown.append(PhotoFace(r.face.id, r.box))
            continue
        maybe = {r.person_id, r.suggested_person_id,
                 *(c.get("person_id") for c in r.candidates)}
        blurred.append(PhotoFace(r.face.id, r.box, tuple(sorted(p for p in maybe if p))))
    not_faces = [PhotoFace(r.face.id, r.box) for r in resolved if r.not_face]
    return shown, blurred, not_faces


def live_publication(session: Session, photo_id: int, channel: str) -> Publication | None:
    return session.scalar(select(Publication).where(
        Publication.photo_id == photo_id, Publication.purpose == channel,
        Publication.taken_down_at.is_(None)).limit(1))


def recheck_at_publication(session: Session, *, actor: Actor, photo: Photo, channel: str,
                           medium: str, now: datetime
                           ) -> tuple[PhotoPurpose, list[ResolvedFace], list[ChannelDecision]]:
    """What every publication (photo or video) checks again when it is made.

    The purpose is approved, the original exists, nothing is live yet, and
    consent for ``<channel>.<medium>`` and face matching is what it was at
    approval (deny by default: a change sends the item back to review, and
    the refusal is kept; the caller commits).
    """
    pp = purpose_row(session, photo.id, channel)
    if pp.status not in PUBLISHABLE or photo.state not in {"approved", "published"}:
        raise InvalidState("Approve the photo for this purpose before publishing it.")
    if photo.storage_key is None:
        raise InvalidState("The original of this photo no longer exists.")
    if live_publication(session, photo.id, channel) is not None:
        raise InvalidState("This photo is already published for this purpose.")
    approved_at = pp.decided_at or now
    resolved = resolve_faces(session, photo.id)
    decisions = decide_channels(session, resolved, [channel], now.date())[channel]
    at_approval = decide_channels(session, resolved, [channel], approved_at.date())[channel]
    identified = {d.resolved.person_id for d in decisions if d.resolved.person_id}
    if _consent_changed_since(session, identified, (consent_purpose(channel, medium), FACE_MATCHING),
                              approved_at) or [
        (d.decision, d.consent_record_id) for d in decisions
    ] != [(d.decision, d.consent_record_id) for d in at_approval]:
        raise _send_back(session, actor, photo, pp, "consent_changed", now)
    return pp, resolved, decisions


def record_publication(session: Session, *, actor: Actor, school_id: int, photo: Photo,
                       pp: PhotoPurpose, channel: str, channel_note: str | None, sha256: str,
                       key: str, snapshot: list[dict[str, Any]], now: datetime, action: str,
                       details: dict[str, Any], video_snapshot: dict[str, Any] | None = None
                       ) -> Publication:
    """The publication record of a checked derivative (photo or video), its claim released, audited.

    ``details`` are the medium's own audit details; the photo, purpose,
    hash and the consent records behind the snapshot are added here.
    """
    publication = Publication(
        school_id=school_id, photo_id=photo.id, purpose=channel,
        channel_note=(channel_note or "").strip() or None, derivative_sha256=sha256,
        derivative_key=key, maker_credit=photo.album.maker or "", snapshot=snapshot,
        video_snapshot=video_snapshot, published_by_id=actor.id, published_at=now,
    )
    session.add(publication)
    photo.state = "published"
    photo.failure_reason = None
    release_claim(pp)
    pp.refusal = None
    session.flush()
    record_event(
        session, actor=actor, action=action, object_type="publication",
        object_id=publication.id, school_id=school_id, now=now,
        subject_ids=[e["person_id"] for e in snapshot if e["person_id"]],
        details={"photo_id": photo.id, "purpose": channel, "sha256": sha256, **details,
                 "consent_records": sorted({e["consent_record_id"] for e in snapshot
                                            if e["consent_record_id"]})},
    )
    return publication


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
    tolerance: float,
    still_ours: Callable[[], bool] | None = None,
) -> Publication:
    """Publish an approved photo for one purpose with consent re-checked and the result verified.

    Raises PublicationRefused when consent changed since approval, a face in
    the derivative shows someone who must be blurred, or the check cannot
    read the blurred people's references; the purpose then keeps the reason
    (flushed: the caller commits so it is kept). Runs in the worker, which
    passes ``still_ours`` to re-check its claim before anything is recorded.
    """
    channel = _channel(channel)
    photo = get_photo(session, school_id, photo_id)
    _refuse_video(photo)
    pp, resolved, decisions = recheck_at_publication(session, actor=actor, photo=photo,
                                                     channel=channel, medium="photo", now=now)
    school = session.get(School, school_id)
    assert school is not None
    how = redaction_choices(session, photo.id, resolved)
    plan = plan_redaction(_planned(decisions, how), photo.width, photo.height,
                          school.block_face_share)
    if plan.blocked:
        raise InvalidState(_block_share_reason(plan.largest_blur_share, school.block_face_share))
    shown, blurred, not_faces = _check_faces(resolved, decisions)
    try:
        references = _references(session, {p for b in blurred for p in b.person_ids}, cipher)
    except KeyError as err:
        raise _refuse_in_place(session, actor, photo, pp, str(err.args[0]), now) from err
    assert photo.storage_key is not None  # recheck_at_publication refused a missing original
    original = load_upright(storage.read(photo.storage_key))
    derivative = render_derivative(original, plan.blur, plan.how())
    check = check_derivative(derivative.image, shown=shown, blurred=blurred, not_faces=not_faces,
                             references=references, tolerance=tolerance, settings=settings)
    if not check.ok:
        raise _send_back(session, actor, photo, pp, "leak", now, check.leaks)
    if still_ours is not None and not still_ours():
        raise ClaimLost("Another worker took over this publication.")
    # A reviewer who changed the photo during the check makes this a conflict, not a publication.
    check_version(session, photo, None)
    key = storage.put_at(content_key(derivative.data, "deriv"), derivative.data)
    snapshot = _snapshot(session, decisions, dict(how))
    return record_publication(
        session, actor=actor, school_id=school_id, photo=photo, pp=pp, channel=channel,
        channel_note=channel_note, sha256=derivative.sha256, key=key, snapshot=snapshot, now=now,
        action="photo.published",
        details={"faces": len(snapshot), "blurred": len(plan.blur),
                 "redactions": {str(k): v for k, v in how.items()},
                 "faces_in_derivative": check.faces_in_derivative})


def preview_derivative(session: Session, *, school_id: int, photo_id: int, channel: str,
                       storage: Storage, now: datetime) -> bytes:
    """The redacted result as it would be published now (for the reviewer; not stored)."""
    channel = _channel(channel)
    photo = get_photo(session, school_id, photo_id)
    _refuse_video(photo)
    if photo.storage_key is None:
        raise InvalidState("The original of this photo no longer exists.")
    resolved = resolve_faces(session, photo.id)
    decisions = decide_channels(session, resolved, [channel], now.date())[channel]
    how = redaction_choices(session, photo.id, resolved)
    blur = [d.resolved.box for d in decisions if d.decision != "show"]
    modes = {d.resolved.box: how[d.resolved.face.id] for d in decisions
             if d.decision != "show" and d.resolved.face.id in how}
    return render_derivative(storage.read(photo.storage_key), blur, modes).data


def get_publication(session: Session, school_id: int, publication_id: int) -> Publication:
    publication = session.get(Publication, publication_id)
    if publication is None or publication.school_id != school_id:
        raise NotFound("Publication not found.")
    return publication


def publication_purpose_status(session: Session, photo_id: int) -> dict[str, PhotoPurpose]:
    rows = session.scalars(select(PhotoPurpose).where(PhotoPurpose.photo_id == photo_id))
    return {pp.purpose: pp for pp in rows}
