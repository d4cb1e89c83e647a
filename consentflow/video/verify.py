"""The check after rendering: does any face that was meant to be blurred still show?

Pure (engine + numpy). The rendered file is decoded like an upload and
the photo engine detects on every ``step``-th frame (every 2nd by default,
every frame for ``step=1``). A detection is a leak when

- it lies on a region that was meant to be blurred on that frame (IoU
  with the track's face box >= ``REGION_IOU``, or its centre inside the
  box), or
- its encoding is within the loose matching distance of a blurred track's
  own encodings (the person is still recognisable, wherever they are), or
  of a blurred person's reference portraits when those are given.

Faces shown on purpose (tracks not blurred) are not leaks, unless they
resemble a blurred track: then they are reported too (deny by default).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from consentflow.faces.engine import EngineSettings, FaceBox, box_iou, detect_faces, encode_faces, prepare_image
from consentflow.faces.matching import ReferenceIndex
from consentflow.photos.boxes import Box
from consentflow.video.decode import Frame, VideoLimits, iter_frames, probe_video
from consentflow.video.tracking import Track

REGION_IOU = 0.3
Reason = Literal["on_blurred_region", "matches_blurred_track", "matches_blurred_person"]


@dataclass(frozen=True)
class Leak:
    """A face seen in the rendered video that should not be visible."""

    reason: Reason
    track_id: int | None  # the blurred track it lies on or resembles
    person_id: int | None  # the blurred person it resembles (reference check)
    frame: int
    time: float
    box: Box
    distance: float | None


@dataclass(frozen=True)
class VerificationResult:
    frames_checked: int
    faces_seen: int
    step: int
    leaks: tuple[Leak, ...]

    @property
    def passed(self) -> bool:
        return not self.leaks


def _on_region(face: FaceBox, region: Box) -> bool:
    cx, cy = (face.left + face.right) / 2, (face.top + face.bottom) / 2
    inside = region.left <= cx < region.right and region.top <= cy < region.bottom
    return inside or box_iou(face, region) >= REGION_IOU


def verify_video(
    rendered: str | os.PathLike[str],
    blurred: Sequence[Track],
    engine: EngineSettings,
    tolerance: float,
    step: int = 2,
    blurred_people: ReferenceIndex | None = None,
    limits: VideoLimits = VideoLimits(),
    progress: Callable[[int], None] | None = None,
) -> VerificationResult:
    """Pass only when no blurred track can be found again on the rendered video.

    ``tolerance`` is the configured loose match threshold (``MatchThresholds.loose``).
    """
    info = probe_video(rendered, limits)
    encoded = [(t.id, e) for t in blurred for e in t.encodings]
    track_index = ReferenceIndex(encoded) if encoded else None
    leaks: list[Leak] = []
    frames_checked = faces_seen = 0
    for frame in iter_frames(rendered, info, limits, every=step):
        frames_checked += 1
        if progress is not None:
            progress(frame.index + 1)
        faces = detect_faces(prepare_image(Image.fromarray(frame.pixels), engine.max_side), engine)
        if not faces:
            continue
        faces_seen += len(faces)

        # The frame is bound as a default so each closure names its own frame.
        def leak(reason: Reason, face: FaceBox, track_id: int | None = None,
                 person_id: int | None = None, distance: float | None = None,
                 at: Frame = frame) -> Leak:
            return Leak(reason, track_id, person_id, at.index, at.time,
                        Box(face.left, face.top, face.right, face.bottom), distance)

        for face in faces:
            for track in blurred:
                region = track.boxes.get(frame.index)
                if region is not None and _on_region(face, region):
                    leaks.append(leak("on_blurred_region", face, track_id=track.id))
        if track_index is None and blurred_people is None:
            continue
        encodings = np.stack(encode_faces(Image.fromarray(frame.pixels), faces, engine))
        if track_index is not None:
            for face, candidates in zip(faces, track_index.match_many(encodings, top_k=1)):
                if candidates and candidates[0].distance < tolerance:
                    leaks.append(leak("matches_blurred_track", face, track_id=candidates[0].person_id,
                                      distance=candidates[0].distance))
        if blurred_people is not None:
            for face, candidates in zip(faces, blurred_people.match_many(encodings, top_k=1)):
                if candidates and candidates[0].distance < tolerance:
                    leaks.append(leak("matches_blurred_person", face, person_id=candidates[0].person_id,
                                      distance=candidates[0].distance))
    return VerificationResult(frames_checked, faces_seen, step, tuple(leaks))
