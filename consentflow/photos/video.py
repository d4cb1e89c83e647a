"""Processing one video: the photo pipeline's claim rules, the video engine, tracks as faces.

A video is a ``Photo`` row; ``processing.claim_photo``, ``record_failure``,
``fail_exhausted`` and ``find_stale_photos`` apply to it unchanged. What
differs is the work (``analyse_stored_video``: decode, detect, track, match
each track on its best frames) and what is recorded (``record_video_result``):
one ``Face`` row per track, so that every review action, consent rule and
takedown works on a track as on a photo face, plus a ``VideoTrack`` row with
the time range and the per-frame boxes (JSON in storage).

Biometric rules as for photos: a track's encoding is stored (encrypted) only
when it matched someone; the review crop of the track's best frame is kept
next to the reviewer's copies of the video, where retention and erasure look.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.faces.matching import MatchOutcome, MatchThresholds, ReferenceIndex
from consentflow.models import Face, Photo, VideoTrack
from consentflow.photos.boxes import Box
from consentflow.photos.crypto import EncodingCipher
from consentflow.photos.imaging import encode_clean_jpeg
from consentflow.photos.processing import (
    Claim,
    FaceResult,
    PermanentFailure,
    claim_still_ours,
    face_row,
    replace_detector_faces,
)
from consentflow.photos.storage import Storage
from consentflow.review.crops import CROP_SIDE, crop_key, derived_prefix
from consentflow.video.analyse import VideoAnalysis, VideoSettings, analyse_video, match_tracks
from consentflow.video.decode import VideoLimits, VideoRejected
from consentflow.video.tracking import Track


@dataclass(frozen=True)
class VideoResult:
    analysis: VideoAnalysis
    outcomes: tuple[MatchOutcome | None, ...]


@contextmanager
def local_copy(storage: Storage, key: str) -> Iterator[str]:
    """The stored original as a file path for FFmpeg, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="cf-video-") as folder:
        path = os.path.join(folder, "source")
        with storage.open(key) as source, open(path, "wb") as target:
            for block in iter(lambda: source.read(1 << 20), b""):
                target.write(block)
        yield path


def analyse_stored_video(path: str, settings: VideoSettings, limits: VideoLimits,
                         index: ReferenceIndex | None, thresholds: MatchThresholds,
                         progress: Callable[[int, int], None] | None = None) -> VideoResult:
    """Every face track of the video, matched to the roster when anyone is enrolled."""
    try:
        analysis = analyse_video(path, settings, limits, progress=progress)
    except VideoRejected as err:
        raise PermanentFailure(err.message) from err
    if index is None or len(index) == 0:
        # Matching off or nobody enrolled: no biometric comparison at all.
        return VideoResult(analysis, tuple(None for _ in analysis.tracks))
    return VideoResult(analysis, tuple(match_tracks(analysis.tracks, index, thresholds)))


def best_box(track: Track) -> Box:
    """The box of the track's best detection (largest face times confidence)."""
    if not track.detections:
        first = track.boxes[track.first_frame]
        return first
    best = max(track.detections, key=lambda d: (d.box.right - d.box.left)
               * (d.box.bottom - d.box.top) * d.box.score)
    return Box(best.box.left, best.box.top, best.box.right, best.box.bottom)


def track_boxes_key(photo: Photo, number: int) -> str:
    return f"{derived_prefix(photo)}track_{number}.json"


def _boxes_json(track: Track) -> bytes:
    frames = {str(i): [b.left, b.top, b.right, b.bottom] for i, b in sorted(track.boxes.items())}
    return json.dumps({"fps": track.fps, "frames": frames}, separators=(",", ":")).encode()


def load_track_boxes(storage: Storage, track: VideoTrack) -> dict[int, Box]:
    """Frame index -> face box of a stored track (an empty map when the file is gone)."""
    if not track.boxes_key or not storage.exists(track.boxes_key):
        return {}
    data = json.loads(storage.read(track.boxes_key))
    return {int(i): Box(*box) for i, box in data["frames"].items()}


def _crop_jpeg(track: Track) -> bytes | None:
    if track.crop is None or track.crop.size == 0:
        return None
    image = Image.fromarray(track.crop)
    image.thumbnail((CROP_SIDE, CROP_SIDE), Image.Resampling.LANCZOS)
    return encode_clean_jpeg(image, quality=85)


def record_video_result(session: Session, claim: Claim, result: VideoResult, *,
                        storage: Storage, cipher: EncodingCipher, settings: VideoSettings,
                        thresholds: MatchThresholds, now: datetime) -> bool:
    """Replace the video's tracks with ``result``; False if the claim was lost."""
    info = result.analysis.info
    engine: dict[str, Any] = {"video": {"step": result.analysis.step,
                                        "detections_per_second": settings.detections_per_second,
                                        "verify_step": settings.verify_step},
                              **settings.engine.as_dict(), **thresholds.as_dict()}
    if not claim_still_ours(session, claim, {
            "state": "needs_review", "processed_at": now, "failure_reason": None,
            "engine_settings": engine, "width": info.width, "height": info.height,
            "progress_done": result.analysis.frame_count,
            "progress_total": result.analysis.frame_count}):
        return False
    photo = session.get(Photo, claim.photo_id)
    assert photo is not None
    session.refresh(photo)
    for old in session.scalars(select(VideoTrack).where(VideoTrack.photo_id == photo.id)):
        session.delete(old)
    session.flush()
    pairs: list[tuple[Track, Face]] = []
    rows = []
    for track, outcome in zip(result.analysis.tracks, result.outcomes):
        box = best_box(track)
        encoding = track.encodings[0] if track.encodings else None
        best = max(track.detections, key=lambda d: d.box.score) if track.detections else None
        face = face_row(photo.id, FaceResult(
            box.left, box.top, box.right, box.bottom,
            best.box.score if best else 0.0, best.box.detector if best else "tracker",
            outcome, encoding if outcome is not None else None), cipher, thresholds, now)
        rows.append(face)
        pairs.append((track, face))
    replace_detector_faces(session, photo.id, rows)
    for number, (track, face) in enumerate(pairs, start=1):
        key = storage.put_at(track_boxes_key(photo, number), _boxes_json(track))
        crop = _crop_jpeg(track)
        if crop is not None:
            storage.put_at(crop_key(photo, face), crop)
        session.add(VideoTrack(
            photo_id=photo.id, face_id=face.id, number=number, fps=track.fps,
            first_frame=track.first_frame, last_frame=track.last_frame,
            frame_count=len(track.boxes), detections=len(track.detections), boxes_key=key,
            created_at=now))
    session.flush()
    matched = sorted({f.matched_person_id for f in rows if f.matched_person_id is not None})
    record_event(session, actor=Actor.system("worker"), action="video.processed",
                 object_type="photo", object_id=photo.id, school_id=photo.school_id,
                 subject_ids=matched, now=now,
                 details={"tracks": len(rows), "matched": len(matched),
                          "frames": result.analysis.frame_count, "attempt": claim.attempts,
                          "seconds": round(result.analysis.seconds, 1)})
    return True


def clock(seconds: float) -> str:
    """A time in a video as m:ss.s (tenths: a face may be on screen for a second only)."""
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes)}:{rest:04.1f}"


def video_tracks(session: Session, photo_id: int) -> dict[int, VideoTrack]:
    """The video's tracks by face id."""
    return {t.face_id: t for t in session.scalars(
        select(VideoTrack).where(VideoTrack.photo_id == photo_id).order_by(VideoTrack.number))}


def tracks_in_order(session: Session, photo_id: int) -> Sequence[VideoTrack]:
    return list(session.scalars(select(VideoTrack).where(VideoTrack.photo_id == photo_id)
                                .order_by(VideoTrack.number)))
