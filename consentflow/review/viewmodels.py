"""Finished values for the review templates: the template decides nothing about consent."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentflow.models import Album, Face, FaceReview, Photo, PhotoPurpose, Publication
from consentflow.photos.decisions import consent_purpose
from consentflow.photos.video import clock, video_tracks
from consentflow.publish.video import audio_kept
from consentflow.review.rules import (
    IDENTIFYING_KINDS,
    ResolvedFace,
    consent_records,
    decide_channels,
    medium_of,
    people_names,
    resolve_faces,
)

# What the reviewer sees per decision: a CSS class and a label key.
DECISION_CLASSES = {"show": "shown", "blur_no_consent": "blur-consent",
                    "blur_unknown": "blur-unknown", "not_a_face": "not-face"}


def review_albums(session: Session, school_id: int) -> list[dict[str, Any]]:
    """Albums of the school with how many photos wait for review."""
    counts = dict(session.execute(
        select(Photo.album_id, func.count(Photo.id))
        .where(Photo.school_id == school_id, Photo.state == "needs_review")
        .group_by(Photo.album_id)).all())
    approved = dict(session.execute(
        select(Photo.album_id, func.count(Photo.id))
        .where(Photo.school_id == school_id, Photo.state.in_(("approved", "published")))
        .group_by(Photo.album_id)).all())
    albums = session.scalars(select(Album).where(Album.school_id == school_id)
                             .order_by(Album.event_date.desc(), Album.id.desc()))
    return [{"album": a, "needs_review": counts.get(a.id, 0), "done": approved.get(a.id, 0)}
            for a in albums]


def album_queue(session: Session, album_id: int) -> list[Photo]:
    """Photos of the album a reviewer still has to look at, in upload order."""
    return list(session.scalars(select(Photo).where(
        Photo.album_id == album_id, Photo.state == "needs_review").order_by(Photo.id)))


def album_photos(session: Session, album_id: int) -> list[Photo]:
    return list(session.scalars(select(Photo).where(Photo.album_id == album_id)
                                .order_by(Photo.id)))


def album_face_counts(session: Session, album_id: int) -> dict[int, int]:
    """Faces per photo of the album (photos without faces are absent: zero)."""
    return {int(pid): int(n) for pid, n in session.execute(
        select(Face.photo_id, func.count(Face.id)).join(Photo, Photo.id == Face.photo_id)
        .where(Photo.album_id == album_id).group_by(Face.photo_id)).all()}


def neighbours(session: Session, photo: Photo) -> tuple[int | None, int | None]:
    """Previous and next photo of the album that are reviewable (keyboard navigation)."""
    ids = list(session.scalars(select(Photo.id).where(
        Photo.album_id == photo.album_id,
        Photo.state.in_(("needs_review", "approved", "published"))).order_by(Photo.id)))
    if photo.id not in ids:
        return (ids[-1] if ids else None, ids[0] if ids else None)
    i = ids.index(photo.id)
    return (ids[i - 1] if i > 0 else None, ids[i + 1] if i + 1 < len(ids) else None)


def _pct(value: int, total: int) -> float:
    return round(100.0 * value / total, 3) if total else 0.0


# Grid order: faces nobody decided yet first, the least certain first.
STATUS_RANK = {"unknown": 0, "ambiguous": 1, "weak": 2, "matched": 3}


def grid_key(row: dict[str, Any]) -> tuple[int, int, int]:
    """Undecided before decided; unknown, ambiguous, weak, matched; then photo order."""
    return (0 if row["needs_attention"] else 1, STATUS_RANK.get(row["match_status"], 0),
            row["number"])


def portrait_faces(session: Session, school_id: int, photo_id: int,
                   person_ids: set[int]) -> dict[int, int]:
    """Per person, a face a reviewer identified as them in another photo of the school.

    Reference portraits themselves are never kept (only their encrypted
    encoding, SPEC §7), so this crop is what the reviewer compares with.
    """
    if not person_ids:
        return {}
    rows = session.execute(
        select(FaceReview.person_id, func.max(FaceReview.face_id))
        .join(Photo, Photo.id == FaceReview.photo_id)
        .where(Photo.school_id == school_id, Photo.id != photo_id,
               Photo.storage_key.is_not(None),
               Photo.state.in_(("needs_review", "approved", "published")),
               FaceReview.person_id.in_(person_ids), FaceReview.face_id.is_not(None),
               FaceReview.kind.in_(IDENTIFYING_KINDS), FaceReview.revoked_at.is_(None))
        .group_by(FaceReview.person_id)).all()
    return {int(pid): int(fid) for pid, fid in rows if pid is not None and fid is not None}


def _face_row(r: ResolvedFace, photo: Photo, names: dict[int, str],
              decisions: dict[str, str], active: str, number: int = 0,
              portraits: dict[int, int] | None = None) -> dict[str, Any]:
    face = r.face
    review = r.review
    portraits = portraits or {}
    decision = "not_a_face" if r.not_face else decisions.get(active, "blur_unknown")
    return {
        "id": face.id,
        "number": number,
        "style": (f"left:{_pct(face.left, photo.width)}%;top:{_pct(face.top, photo.height)}%;"
                  f"width:{_pct(face.right - face.left, photo.width)}%;"
                  f"height:{_pct(face.bottom - face.top, photo.height)}%"),
        "source": face.source,
        "match_status": face.match_status,
        "suggested": names.get(face.matched_person_id or 0) if face.matched_person_id else None,
        "suggested_id": face.matched_person_id,
        "distance": face.distance,
        "candidates": [{"person_id": c.get("person_id"), "name": names.get(c.get("person_id") or 0, "?"),
                        "distance": c.get("distance"),
                        "portrait_face": portraits.get(c.get("person_id") or 0)}
                       for c in r.candidates],
        "review_kind": review.kind if review else None,
        "review_person": names.get(review.person_id or 0) if review and review.person_id else None,
        "review_note": review.note if review else None,
        "person": names.get(r.person_id or 0) if r.person_id else None,
        "decision": decision,
        "css": DECISION_CLASSES.get(decision, "blur-unknown"),
        "decisions": decisions,
        "needs_attention": review is None,
        # Reviewed, and nobody identified: the reviewer decided it stays blurred.
        "kept_blurred": review is not None and review.kind == "not_person" and not review.person_id,
        "identified": r.person_id is not None,
        # Undecided and not one clear suggestion: every candidate side by side.
        "compare": bool(r.candidates) and review is None
        and not (face.match_status == "matched" and len(r.candidates) == 1),
    }


def photo_page(session: Session, photo: Photo, channel: str | None, today: date) -> dict[str, Any]:
    """Everything the review page shows for one photo."""
    album = photo.album
    channels = list(album.purposes or []) or ["website"]
    active = channel if channel in channels else channels[0]
    resolved = resolve_faces(session, photo.id)
    by_channel = decide_channels(session, resolved, channels, today)
    per_face: dict[int, dict[str, str]] = {r.face.id: {} for r in resolved}
    for ch, decisions in by_channel.items():
        for d in decisions:
            per_face[d.resolved.face.id][ch] = d.decision
    ids: set[int] = set()
    for r in resolved:
        ids.update(i for i in (r.person_id, r.face.matched_person_id) if i)
        ids.update(c["person_id"] for c in r.candidates if c.get("person_id"))
        if r.review and r.review.person_id:
            ids.add(r.review.person_id)
    names = people_names(session, ids)
    candidate_ids = {c["person_id"] for r in resolved for c in r.candidates
                     if c.get("person_id") and r.review is None}
    portraits = portrait_faces(session, photo.school_id, photo.id, candidate_ids)
    faces = [_face_row(r, photo, names, per_face[r.face.id], active, n, portraits)
             for n, r in enumerate(resolved, start=1)]
    tracks = video_tracks(session, photo.id) if medium_of(photo) == "video" else {}
    for row in faces:
        track = tracks.get(row["id"])
        row["track"] = None if track is None else {
            "number": track.number, "start": clock(track.first_time),
            "end": clock(track.last_time), "start_seconds": round(track.first_time, 2)}
    identified = sorted({r.person_id for r in resolved if r.person_id and not r.not_face})
    medium = medium_of(photo)
    records = consent_records(session, identified, [consent_purpose(c, medium) for c in channels],
                              today)
    consent_rows = [{
        "name": names.get(pid, "?"),
        "cells": [{"channel": c, "ok": records.get((pid, consent_purpose(c, medium))) is not None,
                   "record_id": getattr(records.get((pid, consent_purpose(c, medium))), "id", None)}
                  for c in channels],
    } for pid in identified]
    purposes = {pp.purpose: pp for pp in session.scalars(
        select(PhotoPurpose).where(PhotoPurpose.photo_id == photo.id))}
    live = {p.purpose: p for p in session.scalars(select(Publication).where(
        Publication.photo_id == photo.id, Publication.taken_down_at.is_(None)))}
    channel_rows = [{
        "channel": c,
        "status": purposes[c].status if c in purposes else "pending",
        "reason": purposes[c].reason if c in purposes else None,
        "shown": sum(1 for d in by_channel[c] if d.decision == "show"),
        "blurred": sum(1 for d in by_channel[c] if d.decision != "show"),
        "publication": live.get(c),
        "keep_audio": bool(purposes[c].keep_audio) if c in purposes else False,
        # The sound rule's outcome now (the reviewer's wish AND everyone shown).
        "audio_kept": audio_kept(bool(purposes[c].keep_audio) if c in purposes else False,
                                 by_channel[c]),
    } for c in channels]
    prev_id, next_id = neighbours(session, photo)
    return {
        "photo": photo, "album": album, "faces": faces, "grid": sorted(faces, key=grid_key),
        "channels": channel_rows,
        "active_channel": active, "consent_rows": consent_rows, "channel_names": channels,
        "prev_id": prev_id, "next_id": next_id,
        "attention": sum(1 for f in faces if f["needs_attention"]),
        "is_video": medium_of(photo) == "video",
        "progress_percent": (round(100 * (photo.progress_done or 0) / photo.progress_total)
                             if photo.progress_total else 0),
    }


def face_queue(session: Session, album_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """Faces across the album's photos in review that no reviewer has decided yet."""
    photos = {p.id: p for p in album_queue(session, album_id)}
    if not photos:
        return []
    rows = []
    for photo_id in photos:
        for r in resolve_faces(session, photo_id):
            if r.review is None:
                rows.append(r)
    names = people_names(session, [r.face.matched_person_id for r in rows if r.face.matched_person_id])
    return [{
        "face": r.face, "photo": photos[r.face.photo_id],
        "suggested": names.get(r.face.matched_person_id or 0),
        "distance": r.face.distance, "match_status": r.face.match_status,
    } for r in rows[:limit]]


def face_count(session: Session, photo_id: int) -> int:
    return int(session.scalar(select(func.count(Face.id)).where(Face.photo_id == photo_id)) or 0)
