"""Processing one photo: claim it, find and match faces, record them once.

Crash safety without double recording:

1. ``claim_photo`` moves ``uploaded`` (or a stale ``processing``) photo to
   ``processing`` with a fresh ``processing_started_at`` and ``attempts + 1``,
   by one conditional UPDATE, and the caller COMMITS it at once, so a worker
   killed mid-photo leaves a visible ``processing`` photo behind.
2. The face work runs outside any transaction, while a heartbeat
   (``consentflow.lease``) renews ``processing_started_at`` through
   ``renew_lease``: the stamp is a lease, and a live worker's is never stale.
3. ``record_result`` first re-checks the claim with a conditional UPDATE
   (state, attempts and started-at must still be ours) and only then
   replaces the photo's detector faces, in the same transaction: a worker
   whose claim was taken over records nothing, and a re-run replaces the
   faces instead of adding a second set.

``find_stale_photos`` lists photos whose worker vanished (lease expired); the job
``recover_stale_photos`` re-queues them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.faces.engine import EngineSettings, detect_faces, encode_faces, prepare_image
from consentflow.faces.matching import (
    MatchOutcome,
    MatchThresholds,
    ReferenceIndex,
    assign_unique,
    classify,
)
from consentflow.models import Face, FaceReview, Photo, School
from consentflow.models.base import rows_changed
from consentflow.photos.crypto import EncodingCipher

MAX_ATTEMPTS = 4  # the first run and Huey's three retries
TOP_CANDIDATES = 3


@dataclass(frozen=True)
class Claim:
    photo_id: int
    attempts: int
    started_at: datetime


@dataclass(frozen=True)
class FaceResult:
    left: int
    top: int
    right: int
    bottom: int
    score: float
    detector: str
    outcome: MatchOutcome | None
    encoding: Any  # numpy vector, or None when not computed


class PermanentFailure(Exception):
    """Retrying cannot help (the original is gone or cannot be decoded)."""


def claim_photo(session: Session, photo_id: int, *, now: datetime,
                stale_after: timedelta) -> Claim | None:
    """Take the photo for processing, or None if it is done or being processed by a live worker."""
    cutoff = now - stale_after
    result = session.execute(
        update(Photo)
        .where(Photo.id == photo_id,
               or_(Photo.state == "uploaded",
                   (Photo.state == "processing") & (Photo.processing_started_at < cutoff)))
        .values(state="processing", processing_started_at=now, attempts=Photo.attempts + 1,
                version=Photo.version + 1)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(result) != 1:
        return None
    attempts = session.scalar(select(Photo.attempts).where(Photo.id == photo_id))
    return Claim(photo_id, int(attempts or 0), now)


def renew_lease(conn: Connection, photo_id: int, attempts: int, current: datetime,
                new: datetime) -> bool:
    """Move a live claim's stamp (its lease) forward; False if the claim is no longer ours."""
    result = conn.execute(
        update(Photo)
        .where(Photo.id == photo_id, Photo.state == "processing", Photo.attempts == attempts,
               Photo.processing_started_at == current)
        .values(processing_started_at=new)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def report_progress(session: Session, claim: Claim, values: dict[str, Any]) -> None:
    """A long job (a video) writes its progress while it holds its claim (caller commits).

    Matched on the claim's attempt, not its stamp: the heartbeat moves the
    stamp forward meanwhile, and each claim has its own attempt number.
    """
    session.execute(
        update(Photo)
        .where(Photo.id == claim.photo_id, Photo.state == "processing",
               Photo.attempts == claim.attempts)
        .values(**values)
        .execution_options(synchronize_session=False))


def claim_still_ours(session: Session, claim: Claim, values: dict[str, Any]) -> bool:
    result = session.execute(
        update(Photo)
        .where(Photo.id == claim.photo_id, Photo.state == "processing",
               Photo.attempts == claim.attempts,
               Photo.processing_started_at == claim.started_at)
        .values(version=Photo.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return rows_changed(result) == 1


def analyse(data: bytes, settings: EngineSettings, index: ReferenceIndex | None,
            thresholds: MatchThresholds) -> list[FaceResult]:
    """Detect every face; encode and match only when there is something to match against."""
    try:
        prepared = prepare_image(io.BytesIO(data), settings.max_side)
    except (OSError, ValueError) as err:
        raise PermanentFailure(f"The image cannot be decoded: {err}") from err
    boxes = detect_faces(prepared, settings)
    if not boxes or index is None or len(index) == 0:
        # Mode "off" or nobody enrolled: no biometric processing at all.
        return [FaceResult(b.left, b.top, b.right, b.bottom, b.score, b.detector, None, None)
                for b in boxes]
    encodings = encode_faces(prepared, boxes, settings)
    candidates = index.match_many(encodings, top_k=5)
    outcomes = assign_unique([
        classify(c, thresholds) for c in candidates])
    return [FaceResult(b.left, b.top, b.right, b.bottom, b.score, b.detector, o, e)
            for b, o, e in zip(boxes, outcomes, encodings)]


def face_row(photo_id: int, result: FaceResult, cipher: EncodingCipher,
              thresholds: MatchThresholds, now: datetime) -> Face:
    outcome = result.outcome
    status = outcome.status if outcome else "unknown"
    # Encodings of faces that match nobody are never stored (SPEC §7).
    keep_encoding = outcome is not None and status != "unknown" and result.encoding is not None
    candidates = [] if outcome is None else [
        {"person_id": c.person_id, "distance": round(c.distance, 4)}
        for c in outcome.candidates if c.distance < thresholds.loose][:TOP_CANDIDATES]
    return Face(
        photo_id=photo_id, left=result.left, top=result.top, right=result.right,
        bottom=result.bottom, source="detector", detector=result.detector[:40],
        score=float(result.score),
        encoding_encrypted=cipher.encrypt(result.encoding) if keep_encoding else None,
        match_status=status,
        matched_person_id=outcome.person_id if outcome and status == "matched" else None,
        distance=None if outcome is None or outcome.distance is None or status == "unknown"
        else round(float(outcome.distance), 4),
        candidates=candidates, created_at=now,
    )


def record_result(session: Session, claim: Claim, results: list[FaceResult], *,
                  cipher: EncodingCipher, settings: EngineSettings, thresholds: MatchThresholds,
                  now: datetime) -> bool:
    """Replace the photo's detector faces with ``results``; False if the claim was lost."""
    engine = {**settings.as_dict(), **thresholds.as_dict()}
    if not claim_still_ours(session, claim, {
            "state": "needs_review", "processed_at": now, "failure_reason": None,
            "engine_settings": engine}):
        return False
    rows = [face_row(claim.photo_id, r, cipher, thresholds, now) for r in results]
    replace_detector_faces(session, claim.photo_id, rows)
    photo = session.get(Photo, claim.photo_id)
    if photo is not None:
        session.refresh(photo)
    matched = sorted({f.matched_person_id for f in rows if f.matched_person_id is not None})
    record_event(session, actor=Actor.system("worker"), action="photo.processed",
                 object_type="photo", object_id=claim.photo_id,
                 school_id=photo.school_id if photo else None, subject_ids=matched, now=now,
                 details={"faces": len(rows), "matched": len(matched), "attempt": claim.attempts,
                          "statuses": _count(f.match_status for f in rows)})
    return True


def replace_detector_faces(session: Session, photo_id: int, rows: list[Face]) -> None:
    """Swap the detector faces for ``rows``; reviewer decisions move to the new faces by box."""
    old = list(session.scalars(
        select(Face).where(Face.photo_id == photo_id, Face.source == "detector")))
    old_ids = {f.id for f in old}
    if old_ids:
        for review in session.scalars(select(FaceReview).where(FaceReview.face_id.in_(old_ids))):
            review.face_id = None  # re-attached below by box
        session.flush()
        for face in old:
            session.delete(face)
        session.flush()
    session.add_all(rows)
    session.flush()
    _reattach_reviews(session, photo_id)


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _reattach_reviews(session: Session, photo_id: int) -> None:
    """Reviewer decisions survive reprocessing: one rule, owned by the review code."""
    # Imported here: review.rules builds on photos.decisions, so a module-level
    # import would be circular.
    from consentflow.review.rules import reattach_reviews

    reattach_reviews(session, photo_id)


def record_failure(session: Session, claim: Claim, reason: str, *, final: bool,
                   now: datetime) -> bool:
    """After an error: back to ``uploaded`` for Huey's retry, or ``failed`` with the reason."""
    values: dict[str, Any] = {"failure_reason": reason[:2000]}
    values["state"] = "failed" if final else "uploaded"
    if not claim_still_ours(session, claim, values):
        return False
    school_id = session.scalar(select(Photo.school_id).where(Photo.id == claim.photo_id))
    record_event(session, actor=Actor.system("worker"),
                 action="photo.failed" if final else "photo.retry", object_type="photo",
                 object_id=claim.photo_id, school_id=school_id, now=now,
                 details={"reason": reason[:500], "attempt": claim.attempts})
    return True


def fail_exhausted(session: Session, photo_id: int, *, now: datetime,
                   stale_after: timedelta) -> bool:
    """A stale photo that already used every attempt is marked failed, not retried forever."""
    result = session.execute(
        update(Photo)
        .where(Photo.id == photo_id, Photo.state == "processing",
               Photo.processing_started_at < now - stale_after, Photo.attempts >= MAX_ATTEMPTS)
        .values(state="failed", version=Photo.version + 1,
                failure_reason="Processing stopped repeatedly (the worker was interrupted).")
        .execution_options(synchronize_session=False))
    return rows_changed(result) == 1


def find_stale_photos(session: Session, *, now: datetime, stale_after: timedelta,
                      lease: timedelta | None = None, album_id: int | None = None,
                      limit: int = 500) -> list[int]:
    """Photos left ``processing`` by a vanished worker, or ``uploaded`` and never picked up.

    A ``processing`` photo is stale once its lease (renewed by a live worker's
    heartbeat) has expired; ``lease`` defaults to ``stale_after``.
    """
    cutoff = now - (lease if lease is not None else stale_after)
    # A long queue (an event of 1,000 photos) keeps photos "uploaded" for a
    # while legitimately; only much older ones are assumed lost from the queue.
    lost = now - stale_after * 6
    stmt = select(Photo.id).where(or_(
        (Photo.state == "processing") & (Photo.processing_started_at < cutoff),
        (Photo.state == "uploaded") & (Photo.uploaded_at < lost)
        & or_(Photo.processing_started_at.is_(None), Photo.processing_started_at < lost),
    ))
    if album_id is not None:
        stmt = stmt.where(Photo.album_id == album_id)
    return list(session.scalars(stmt.order_by(Photo.id).limit(limit)))


def school_of(session: Session, photo_id: int) -> School | None:
    return session.scalar(select(School).join(Photo, Photo.school_id == School.id)
                          .where(Photo.id == photo_id))
