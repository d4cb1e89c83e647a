"""Publish a video for one channel: the photo rules per track, the sound rule, a verified render.

The same promise as a photo (``publish.service``), in three steps so that
no transaction stays open while FFmpeg works (the job commits between them):

1. ``prepare_video`` (in a transaction, writes nothing unless it refuses):
   consent looked up anew, one decision per track with the photo rule
   (``review.rules.decide_channels`` with "<channel>.video" consent), the
   frames and boxes to blur, the blurred people's references, the sound
   decision (``audio_kept``). A change of consent since approval sends the
   video back to review, as for a photo.
2. ``render_and_check`` (pure, no database): every frame redacted
   (``video.render``), then the rendered file is searched again on every
   ``verify_step``-th frame (``video.verify``).
3. ``record_video_publication``: a leak sends the video back to review with
   the track and the time; otherwise the file is stored and the publication
   recorded with a per-track snapshot and the sound decision, only if the
   video did not change during steps 1-2.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.errors import InvalidState
from consentflow.faces.matching import ReferenceIndex
from consentflow.models import Face, Photo, PhotoPurpose, Publication
from consentflow.photos.boxes import Box
from consentflow.photos.storage import Storage, content_key
from consentflow.photos.video import clock, load_track_boxes, local_copy, video_tracks
from consentflow.publish.redact import REDACTIONS, Redaction
from consentflow.publish.redaction import redaction_choices
from consentflow.publish.service import (
    ClaimLost,
    PublicationRefused,
    _channel,
    _references,
    _refuse_in_place,
    _send_back,
    _snapshot,
    recheck_at_publication,
    record_publication,
)
from consentflow.review.crops import derived_prefix
from consentflow.review.rules import ChannelDecision, decide_channels, resolve_faces
from consentflow.review.service import check_version, get_photo, purpose_row
from consentflow.video.analyse import VideoSettings
from consentflow.video.decode import VideoInfo, VideoLimits, probe_video
from consentflow.video.render import RenderedVideo, render_video
from consentflow.video.tracking import Track
from consentflow.video.verify import VerificationResult, verify_video

AUDIO_RULE = "kept only if the reviewer keeps it and every face in the video is shown"


def audio_kept(requested: bool, decisions: Sequence[ChannelDecision]) -> bool:
    """The sound stays only when the reviewer keeps it AND every face may be shown on the channel.

    Every face shown means every person identified in the video has
    "<channel>.video" consent (or is an adult from outside with a note) and
    nobody is blurred: a voice identifies a child as well as a face does, so
    one blurred track (no consent, or nobody identified yet) drops the sound.
    Deny by default: not asked to keep it -> dropped.
    """
    return requested and all(d.decision == "show" for d in decisions)


@dataclass(frozen=True)
class VideoPlan:
    """Everything steps 2-3 need, as plain values (no ORM objects cross a commit)."""

    photo_id: int
    channel: str
    version: int
    storage_key: str
    decisions: tuple[ChannelDecision, ...]
    blur: dict[int, list[Box]]
    how: dict[Box, Redaction]
    redactions: dict[int, Redaction]  # face id -> the reviewer's stronger redaction
    blurred_tracks: tuple[Track, ...]
    references: tuple[tuple[int, Any], ...]
    track_numbers: dict[int, int]
    track_times: dict[int, tuple[float, float]]
    audio_requested: bool
    audio: bool


def _blurred_track(face: Face, track_number: int, fps: float, boxes: dict[int, Box],
                   cipher: Any) -> Track:
    """An engine Track of a blurred face; with its own encoding when one is stored."""
    encodings: tuple[Any, ...] = ()
    if face.encoding_encrypted is not None and cipher is not None:
        try:
            encodings = (np.asarray(cipher.decrypt(face.encoding_encrypted), dtype=np.float64),)
        except Exception:  # unreadable: the reference check below still applies
            encodings = ()
    return Track(id=track_number, fps=fps, boxes=boxes, detections=(), encodings=encodings)


@dataclass(frozen=True)
class BlurPlan:
    """Frame -> boxes to blur, how strongly, the blurred tracks (for the check) and who they may be."""

    blur: dict[int, list[Box]]
    how: dict[Box, Redaction]
    redactions: dict[int, Redaction]  # face id -> the reviewer's stronger redaction
    blurred: list[Track]
    maybe_people: set[int]


def blur_plan(session: Session, storage: Storage, decisions: Sequence[ChannelDecision],
              cipher: Any = None) -> BlurPlan:
    """What a render of these decisions blurs.

    Every track whose decision is not "show" is blurred on every frame it
    covers, with the reviewer's stronger redaction for its face if one was
    chosen (as for a photo); a blurred face without stored frames stops
    everything.
    """
    photo_id = decisions[0].resolved.face.photo_id if decisions else None
    tracks = video_tracks(session, photo_id) if photo_id is not None else {}
    chosen = redaction_choices(session, photo_id, [d.resolved for d in decisions]) if photo_id else {}
    blur: dict[int, list[Box]] = {}
    how: dict[Box, Redaction] = {}
    blurred: list[Track] = []
    maybe_people: set[int] = set()
    for d in decisions:
        if d.decision == "show":
            continue
        track = tracks.get(d.resolved.face.id)
        if track is None:
            # Deny by default: a face without frames cannot be blurred in a video.
            raise InvalidState("A face of this video has no track to blur; process the video "
                               "again before publishing it.")
        boxes = load_track_boxes(storage, track)
        if not boxes:
            raise InvalidState("The positions of a face in this video are missing; process "
                               "the video again before publishing it.")
        mode = chosen.get(d.resolved.face.id)
        for frame, box in boxes.items():
            blur.setdefault(frame, []).append(box)
            # Two tracks on one box (a duplicate track): the stronger choice wins.
            if mode is not None and REDACTIONS.index(mode) > REDACTIONS.index(how.get(box, "standard")):
                how[box] = mode
        blurred.append(_blurred_track(d.resolved.face, track.number, track.fps, boxes, cipher))
        r = d.resolved
        maybe_people.update(p for p in (r.person_id, r.suggested_person_id,
                                        *(c.get("person_id") for c in r.candidates)) if p)
    return BlurPlan(blur, how, chosen, blurred, maybe_people)


def preview_key(session: Session, photo: Photo, channel: str, now: datetime) -> tuple[str, bool]:
    """Storage key of the redacted preview for the CURRENT decisions, and whether sound stays.

    The key changes with anything that changes the render (which tracks are
    blurred, the sound), so a stored preview is never one of older decisions.
    """
    channel = _channel(channel)
    decisions = decide_channels(session, resolve_faces(session, photo.id), [channel], now.date())[channel]
    pp = purpose_row(session, photo.id, channel)
    audio = audio_kept(bool(pp.keep_audio), decisions)
    tracks = video_tracks(session, photo.id)
    blurred = sorted(tracks[d.resolved.face.id].id for d in decisions
                     if d.decision != "show" and d.resolved.face.id in tracks)
    chosen = redaction_choices(session, photo.id, [d.resolved for d in decisions])
    modes = sorted((tracks[face_id].id, mode) for face_id, mode in chosen.items() if face_id in tracks)
    digest = hashlib.sha256(json.dumps([channel, audio, blurred, len(decisions), modes]).encode())
    return f"{derived_prefix(photo)}preview_{digest.hexdigest()[:16]}.mp4", audio


def preview_status(session: Session, storage: Storage, photo: Photo, channel: str,
                   now: datetime) -> tuple[str, str, int]:
    """("ready" | "rendering" | "missing", storage key, percent) of the current decisions' preview."""
    key, _audio = preview_key(session, photo, channel, now)
    if storage.exists(key):
        return "ready", key, 100
    pp = purpose_row(session, photo.id, _channel(channel))
    if pp.render_done is not None and pp.status != "publishing":
        total = pp.render_total or 0
        return "rendering", key, (5 + int(90 * pp.render_done / total)) if total else 5
    return "missing", key, 0


@dataclass(frozen=True)
class PreviewPlan:
    key: str
    source_key: str
    blur: dict[int, list[Box]]
    how: dict[Box, Redaction]
    audio: bool


def plan_preview(session: Session, *, school_id: int, photo_id: int, channel: str,
                 storage: Storage, now: datetime) -> PreviewPlan:
    """What the reviewer's preview renders: the current decisions, blurred as at publication."""
    photo = get_photo(session, school_id, photo_id)
    if photo.storage_key is None:
        raise InvalidState("The original of this photo no longer exists.")
    key, audio = preview_key(session, photo, channel, now)
    decisions = decide_channels(session, resolve_faces(session, photo.id), [channel], now.date())[channel]
    planned = blur_plan(session, storage, decisions)
    return PreviewPlan(key, photo.storage_key, planned.blur, planned.how, audio)


def render_preview(plan: PreviewPlan, storage: Storage,
                   progress: Callable[[int, int], None] | None = None) -> str:
    """Render and store the preview (not checked, never published); no database work."""
    if storage.exists(plan.key):
        return plan.key
    with local_copy(storage, plan.source_key) as source, \
            tempfile.TemporaryDirectory(prefix="cf-preview-") as folder:
        info = probe_video(source)
        total = max(1, round((info.duration or 0) * info.fps))
        dest = os.path.join(folder, "preview.mp4")
        render_video(source, dest, info, plan.blur, keep_audio=plan.audio,
                     progress=(lambda done: progress(done, total)) if progress else None,
                     how=plan.how)
        with open(dest, "rb") as handle:
            storage.put_at(plan.key, handle.read())
    return plan.key


def prepare_video(session: Session, *, actor: Actor, school_id: int, photo_id: int, channel: str,
                  storage: Storage, now: datetime, cipher: Any = None) -> VideoPlan:
    """Re-check consent and build the render plan; refuses as ``publish_photo`` does."""
    channel = _channel(channel)
    photo = get_photo(session, school_id, photo_id)
    pp, _resolved, decisions = recheck_at_publication(session, actor=actor, photo=photo,
                                                      channel=channel, medium="video", now=now)
    planned = blur_plan(session, storage, decisions, cipher)
    tracks = video_tracks(session, photo.id)
    try:
        references = _references(session, planned.maybe_people, cipher)
    except KeyError as err:
        raise _refuse_in_place(session, actor, photo, pp, str(err.args[0]), now) from err
    assert photo.storage_key is not None  # recheck_at_publication refused a missing original
    return VideoPlan(
        photo_id=photo.id, channel=channel, version=photo.version, storage_key=photo.storage_key,
        decisions=tuple(decisions), blur=planned.blur, how=planned.how,
        redactions=planned.redactions,
        blurred_tracks=tuple(planned.blurred),
        references=tuple(references),
        track_numbers={t.face_id: t.number for t in tracks.values()},
        track_times={t.face_id: (t.first_time, t.last_time) for t in tracks.values()},
        audio_requested=bool(pp.keep_audio), audio=audio_kept(bool(pp.keep_audio), decisions))


@dataclass(frozen=True)
class CheckedRender:
    rendered: RenderedVideo
    check: VerificationResult
    info: VideoInfo


def render_and_check(plan: VideoPlan, source: str, dest: str, settings: VideoSettings,
                     tolerance: float, limits: VideoLimits = VideoLimits(),
                     progress: Callable[[int, int], None] | None = None) -> CheckedRender:
    """Render the redacted video to ``dest`` and check it (pure: no database, no storage)."""
    info = probe_video(source, limits)
    total = max(1, round((info.duration or 0) * info.fps)) * 2

    def rendered_frames(done: int) -> None:
        if progress is not None:
            progress(done, total)

    def checked_frames(done: int) -> None:
        if progress is not None:
            progress(total // 2 + done, total)

    rendered = render_video(source, dest, info, plan.blur, keep_audio=plan.audio, limits=limits,
                            progress=rendered_frames, how=plan.how)
    people = ReferenceIndex(list(plan.references)) if plan.references else None
    check = verify_video(dest, plan.blurred_tracks, settings.engine, tolerance,
                         step=settings.verify_step, blurred_people=people, limits=limits,
                         progress=checked_frames)
    return CheckedRender(rendered, check, info)


def _leak_refusal(plan: VideoPlan, check: VerificationResult) -> list[dict[str, Any]]:
    by_number = {n: f for f, n in plan.track_numbers.items()}
    return [{
        "face_id": by_number.get(leak.track_id) if leak.track_id is not None else None,
        "box": [leak.box.left, leak.box.top, leak.box.right, leak.box.bottom],
        "reason": leak.reason, "person_id": leak.person_id, "distance": leak.distance,
        "track": leak.track_id, "frame": leak.frame, "time": round(leak.time, 2),
    } for leak in check.leaks[:20]]


def leak_message(plan: VideoPlan, check: VerificationResult) -> str:
    """The refusal in one sentence naming the first leaking track and time (English; audit)."""
    first = check.leaks[0]
    who = f"track {first.track_id}" if first.track_id is not None else "a face"
    return (f"A face in the redacted video still shows someone who must be blurred: "
            f"{who} at {clock(first.time)}.")


def record_video_publication(
    session: Session, *, actor: Actor, school_id: int, plan: VideoPlan, result: CheckedRender,
    storage: Storage, now: datetime, channel_note: str | None = None,
    still_ours: Callable[[], bool] | None = None,
) -> Publication:
    """Store and record the checked video, or refuse (leak -> back to review with track and time)."""
    photo = get_photo(session, school_id, plan.photo_id)
    pp = purpose_row(session, photo.id, plan.channel)
    pp.render_done = pp.render_total = None  # the run is over either way
    if not result.check.passed:
        refusal = _send_back(session, actor, photo, pp, "leak", now)
        pp.refusal = {"code": "video_leak", "message": leak_message(plan, result.check),
                      "leaks": _leak_refusal(plan, result.check)}
        session.flush()
        record_event(session, actor=actor, action="video.leak", object_type="photo",
                     object_id=photo.id, school_id=school_id, now=now,
                     details={"purpose": plan.channel, "message": pp.refusal["message"],
                              "leaks": pp.refusal["leaks"]})
        raise PublicationRefused(pp.refusal["message"], code="video_leak",
                                 sent_back=refusal.sent_back)
    if still_ours is not None and not still_ours():
        raise ClaimLost("Another worker took over this publication.")
    # Anything a reviewer changed while the video was rendered makes this a conflict.
    check_version(session, photo, plan.version)
    data = result.rendered.path.read_bytes()
    key = storage.put_at(content_key(data, "deriv"), data)
    snapshot = _snapshot(session, list(plan.decisions), plan.redactions)
    for entry in snapshot:
        start, end = plan.track_times.get(entry["face_id"], (0.0, 0.0))
        entry["track"] = plan.track_numbers.get(entry["face_id"])
        entry["from"], entry["to"] = round(start, 2), round(end, 2)
    video_snapshot = {
        "audio": {"requested": plan.audio_requested, "kept": result.rendered.has_audio,
                  "rule": AUDIO_RULE},
        "frames": result.rendered.frames, "width": result.rendered.width,
        "height": result.rendered.height, "verify_step": result.check.step,
        "frames_checked": result.check.frames_checked, "faces_seen": result.check.faces_seen,
    }
    return record_publication(
        session, actor=actor, school_id=school_id, photo=photo, pp=pp, channel=plan.channel,
        channel_note=channel_note, sha256=result.rendered.sha256, key=key, snapshot=snapshot,
        now=now, action="video.published", video_snapshot=video_snapshot,
        details={"tracks": len(snapshot),
                 "blurred": sum(1 for e in snapshot if e["decision"] != "show"),
                 "audio": video_snapshot["audio"],
                 "frames_checked": result.check.frames_checked})


def set_keep_audio(session: Session, *, actor: Actor, school_id: int, photo_id: int,
                   channel: str, keep: bool, now: datetime) -> PhotoPurpose:
    """Record the reviewer's wish about the sound; the audio rule still decides at publication."""
    channel = _channel(channel)
    photo = get_photo(session, school_id, photo_id)
    pp = purpose_row(session, photo.id, channel)
    if pp.status == "publishing":
        raise InvalidState("This photo is being published for this purpose; wait for the result.")
    pp.keep_audio = keep
    session.flush()
    record_event(session, actor=actor, action="video.audio_wish", object_type="photo",
                 object_id=photo.id, school_id=school_id, now=now,
                 details={"purpose": channel, "keep_audio": keep})
    return pp


