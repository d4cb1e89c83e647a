"""Who each face of a photo is, after review, and what may be shown per purpose.

Deny by default (SPEC §4.3, §7): a face is shown on a channel only when a
reviewer confirmed or assigned the person and that person's effective
consent says yes for "<channel>.photo", or when a reviewer recorded an
adult from outside the school with consent given elsewhere (note required).
An automatic match is a suggestion: until confirmed, its face is blurred.
Faces marked "not a face" are not faces and are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.consent.effective import allows, consent_map
from consentflow.models import ConsentRecord, Face, FaceReview, Person, Photo
from consentflow.photos.boxes import Box
from consentflow.photos.decisions import (
    Decision,
    FaceFacts,
    ReviewFacts,
    consent_purpose,
    decide_photo,
    persons_to_check,
)
from consentflow.photos.imaging import is_video_type

# A decision made on one box belongs to a new detection of the same face
# when the boxes overlap at least this much (after reprocessing).
REATTACH_IOU = 0.5
IDENTIFYING_KINDS = frozenset({"confirm", "assign"})


def medium_of(photo: Photo) -> str:
    """"video" for a video item, else "photo": which consent a channel needs for it."""
    return "video" if is_video_type(photo.media_type) else "photo"


def channel_of(purpose: str) -> str:
    return purpose.split(".", 1)[0]


# --- consent lookup --------------------------------------------------------------


def consent_records(
    session: Session, person_ids: Iterable[int], purposes: Iterable[str], on: date
) -> dict[tuple[int, str], ConsentRecord | None]:
    """The record that allows each (person, purpose) on a date; None means no consent.

    One rule used everywhere: the consent registry's ``consent_map``, keeping
    a record only where it says yes to that purpose.
    """
    raw = consent_map(session, sorted(set(person_ids)), sorted(set(purposes)), on)
    return {key: (record if allows(record, key[1]) else None) for key, record in raw.items()}


# --- faces after review ---------------------------------------------------------


@dataclass(frozen=True)
class ResolvedFace:
    """A face with the reviewer's decision applied."""

    face: Face
    box: Box
    review: FaceReview | None
    # The person the decisions use: only a reviewer-confirmed or assigned person.
    person_id: int | None
    # The automatic suggestion, shown to the reviewer.
    suggested_person_id: int | None
    external: bool = False
    not_face: bool = False
    candidates: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def reviewed(self) -> bool:
        return self.review is not None


def box_of(obj: Face | FaceReview) -> Box:
    return Box(obj.left, obj.top, obj.right, obj.bottom)


def active_reviews(session: Session, photo_id: int) -> list[FaceReview]:
    return list(session.scalars(
        select(FaceReview)
        .where(FaceReview.photo_id == photo_id, FaceReview.revoked_at.is_(None))
        .order_by(FaceReview.id)
    ))


def reattach_reviews(session: Session, photo_id: int) -> int:
    """Give every active decision a face again after reprocessing; returns how many moved.

    A decision whose face was replaced goes to the new detection with the
    best overlap; when none overlaps enough, the reviewer's box becomes a
    reviewer face again, so no decision is ever lost.
    """
    faces = list(session.scalars(select(Face).where(Face.photo_id == photo_id).order_by(Face.id)))
    face_ids = {f.id for f in faces}
    taken = {r.face_id for r in active_reviews(session, photo_id) if r.face_id in face_ids}
    moved = 0
    for review in active_reviews(session, photo_id):
        if review.face_id in face_ids:
            continue
        target = box_of(review)
        best, best_iou = None, 0.0
        for face in faces:
            iou = target.iou(box_of(face))
            if face.id not in taken and iou > best_iou:
                best, best_iou = face, iou
        if best is None or best_iou < REATTACH_IOU:
            best = Face(photo_id=photo_id, left=target.left, top=target.top, right=target.right,
                        bottom=target.bottom, source="reviewer", detector="reviewer", score=1.0,
                        match_status="unknown", candidates=[])
            session.add(best)
            session.flush()
            faces.append(best)
        review.face_id = best.id
        taken.add(best.id)
        moved += 1
    if moved:
        session.flush()
    return moved


def resolve_faces(session: Session, photo_id: int) -> list[ResolvedFace]:
    """Every face of the photo with its latest active decision applied (read-only)."""
    faces = list(session.scalars(
        select(Face).where(Face.photo_id == photo_id).order_by(Face.top, Face.left, Face.id)
    ))
    by_face: dict[int, FaceReview] = {}
    for review in active_reviews(session, photo_id):
        if review.face_id is not None:
            by_face[review.face_id] = review  # later decisions win
    resolved = []
    for face in faces:
        face_review = by_face.get(face.id)
        suggested = face.matched_person_id if face.match_status == "matched" else None
        person_id = None
        if face_review is not None and face_review.kind in IDENTIFYING_KINDS:
            person_id = face_review.person_id
        resolved.append(ResolvedFace(
            face=face, box=box_of(face), review=face_review, person_id=person_id,
            suggested_person_id=suggested,
            external=face_review is not None and face_review.kind == "external_adult",
            not_face=face_review is not None and face_review.kind == "not_face",
            candidates=tuple(face.candidates or ()),
        ))
    return resolved


# --- decisions ------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelDecision:
    """One face's decision for one channel, with the consent record that allowed showing it."""

    resolved: ResolvedFace
    decision: Decision
    consent_record_id: int | None
    basis: str  # the rule's reason: "consent", "external_adult", "no_consent", ...


def _facts(resolved: ResolvedFace) -> FaceFacts:
    review = resolved.review
    return FaceFacts(
        face_id=resolved.face.id,
        match_status=resolved.face.match_status,
        matched_person_id=resolved.face.matched_person_id,
        review=ReviewFacts(review.kind, review.person_id, review.note) if review else None,
    )


def decide_channels(
    session: Session, resolved: Sequence[ResolvedFace], channels: Iterable[str], on: date
) -> dict[str, list[ChannelDecision]]:
    """Decisions for every real face (or video track) and every channel, by the one rule.

    A video's tracks are faces of the video item: the same rule, with the
    "<channel>.video" consent instead of "<channel>.photo". Faces marked
    "not a face" are left out; the consent record that allowed showing a
    face is kept for the publication's snapshot.
    """
    channels = list(channels)
    facts = [_facts(r) for r in resolved]
    people = persons_to_check(facts)
    medium = medium_of(resolved[0].face.photo) if resolved else "photo"
    purposes = [consent_purpose(c, medium) for c in channels]
    records = consent_records(session, people, purposes, on)
    outcome = decide_photo(facts, purposes, records)
    result: dict[str, list[ChannelDecision]] = {}
    for channel, purpose in zip(channels, purposes):
        decisions = []
        for r, d in zip(resolved, outcome.faces(purpose)):
            if d.action == "not_a_face":
                continue
            record = records.get((d.person_id, purpose)) if d.person_id else None
            decisions.append(ChannelDecision(
                r, d.action, record.id if d.action == "show" and record else None, d.reason))
        result[channel] = decisions
    return result


def people_names(session: Session, person_ids: Iterable[int]) -> dict[int, str]:
    ids = set(person_ids)
    if not ids:
        return {}
    return {p.id: p.full_name for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
