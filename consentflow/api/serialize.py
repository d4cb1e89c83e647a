"""The JSON shapes of the API: finished values, built from the pipeline's own services.

The per-face decision comes from ``consentflow.review.rules.decide_channels``,
the rule the review pages and publication use, so the API can never
disagree with what a reviewer sees. Names are never part of these shapes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentflow.models import Album, Face, Photo, PhotoPurpose
from consentflow.photos.service import album_progress
from consentflow.review.rules import decide_channels, resolve_faces


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def album_channels(album: Album) -> list[str]:
    """The channels decisions are made for; the review page uses the same default."""
    return list(album.purposes or []) or ["website"]


def album_json(session: Session, album: Album, *, with_photos: bool = False) -> dict[str, Any]:
    progress = album_progress(session, album.id).as_dict()
    progress["states"] = {state: int(n) for state, n in session.execute(
        select(Photo.state, func.count()).where(Photo.album_id == album.id)
        .group_by(Photo.state)).all()}
    data: dict[str, Any] = {
        "id": album.id, "title": album.title, "event_date": album.event_date.isoformat(),
        "description": album.description, "maker": album.maker,
        "purposes": list(album.purposes or []), "created_by_id": album.created_by_id,
        "created_at": _iso(album.created_at), "progress": progress,
    }
    if with_photos:
        data["photos"] = [
            {"id": pid, "filename": name, "state": state}
            for pid, name, state in session.execute(
                select(Photo.id, Photo.original_filename, Photo.state)
                .where(Photo.album_id == album.id).order_by(Photo.id)).all()]
    return data


def photo_json(session: Session, photo: Photo) -> dict[str, Any]:
    faces = session.scalar(select(func.count(Face.id)).where(Face.photo_id == photo.id)) or 0
    purposes = dict(session.execute(select(PhotoPurpose.purpose, PhotoPurpose.status)
                                    .where(PhotoPurpose.photo_id == photo.id)).all())
    return {
        "id": photo.id, "album_id": photo.album_id, "filename": photo.original_filename,
        "media_type": photo.media_type, "sha256": photo.sha256,
        "width": photo.width, "height": photo.height, "byte_size": photo.byte_size,
        "state": photo.state, "failure_reason": photo.failure_reason,
        "attempts": photo.attempts, "uploaded_at": _iso(photo.uploaded_at),
        "processed_at": _iso(photo.processed_at), "face_count": int(faces),
        "approval": {c: purposes.get(c, "pending") for c in album_channels(photo.album)},
    }


def faces_json(session: Session, photo: Photo, today: date) -> dict[str, Any]:
    """Boxes in the photo's pixel coordinates (after EXIF orientation) and the decision per channel."""
    channels = album_channels(photo.album)
    resolved = resolve_faces(session, photo.id)
    by_channel = decide_channels(session, resolved, channels, today)
    per_face: dict[int, dict[str, Any]] = {r.face.id: {} for r in resolved}
    for channel, channel_decisions in by_channel.items():
        for d in channel_decisions:
            per_face[d.resolved.face.id][channel] = {
                "decision": d.decision, "reason": d.basis,
                "consent_record_id": d.consent_record_id}
    faces = []
    for r in resolved:
        face = r.face
        decisions = per_face[face.id]
        if r.not_face:
            # decide_channels leaves "not a face" out: there is nothing to redact.
            decisions = {c: {"decision": "not_a_face", "reason": "not_face",
                             "consent_record_id": None} for c in channels}
        faces.append({
            "id": face.id,
            "box": {"left": face.left, "top": face.top, "right": face.right,
                    "bottom": face.bottom},
            "source": face.source, "detector": face.detector, "score": face.score,
            "match_status": face.match_status,
            "review": r.review.kind if r.review is not None else None,
            "person_id": r.person_id,
            "decisions": decisions,
        })
    return {"photo_id": photo.id, "state": photo.state, "width": photo.width,
            "height": photo.height, "channels": channels, "decided_on": today.isoformat(),
            "faces": faces}
