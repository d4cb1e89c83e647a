"""Faces through time: detect on sampled frames, track, encode each track's best frames, match.

One decode pass. A background thread decodes (FFmpeg's own threads plus
the colour conversion) while this thread runs the photo engine's detector
on every ``step``-th frame, so both cores work. ``step`` comes from the
frame rate: ``round(fps / detections_per_second)``, i.e. every 5th frame
at 30 fps, every 10th at 60 fps, every 2nd at 10-15 fps; the tracker
fills the frames in between.

Each track keeps the crops of its ``encode_per_track`` best detections
(largest face times detector confidence, in memory only) and is encoded on
them after the pass, so a track can be matched like a photo face.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from consentflow.faces.engine import EngineSettings, FaceBox, detect_faces, encode_faces, prepare_image
from consentflow.faces.matching import (
    Candidate,
    MatchOutcome,
    MatchThresholds,
    ReferenceIndex,
    classify,
)
from consentflow.photos.boxes import Box
from consentflow.publish.redact import head_region
from consentflow.video.decode import Frame, RGBArray, VideoInfo, VideoLimits, iter_frames, probe_video
from consentflow.video.tracking import FaceTracker, Track, TrackerSettings


def video_engine_settings() -> EngineSettings:
    """The photo engine tuned for video frames (measured in bench/video.py).

    CenterFace alone at a 1280-px working size: HOG and the tiled pass cost
    3-6x more per frame and the tracker already bridges single misses.
    """
    return EngineSettings(max_side=1280, hog=False, tiling=False)


@dataclass(frozen=True)
class VideoSettings:
    """Every knob of video analysis; stored with a result for audit."""

    engine: EngineSettings = field(default_factory=video_engine_settings)
    detections_per_second: float = 6.0
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    encode_per_track: int = 3
    # The check after rendering detects on every ``verify_step``-th frame.
    verify_step: int = 2

    def step(self, fps: float) -> int:
        """Detect on every ``step``-th frame: about ``detections_per_second`` per second."""
        return max(1, round(fps / self.detections_per_second))


@dataclass(frozen=True)
class VideoAnalysis:
    info: VideoInfo
    step: int
    frame_count: int
    tracks: tuple[Track, ...]
    seconds: float


@dataclass
class _Crop:
    quality: float
    frame: int
    pixels: RGBArray
    box: FaceBox  # in crop coordinates


def _crop(frame: Frame, face: FaceBox) -> _Crop:
    height, width = frame.pixels.shape[:2]
    margin_x, margin_y = face.width, face.height
    left, top = max(0, face.left - margin_x), max(0, face.top - margin_y)
    right, bottom = min(width, face.right + margin_x), min(height, face.bottom + margin_y)
    pixels = np.array(frame.pixels[top:bottom, left:right])
    shifted = replace(face, left=face.left - left, top=face.top - top,
                      right=face.right - left, bottom=face.bottom - top)
    return _Crop(face.area * face.score, frame.index, pixels, shifted)


def _prefetch(frames: Iterator[Frame], depth: int = 4) -> Iterator[Frame]:
    """Decode in a background thread; errors are re-raised in the consumer."""
    slots: queue.Queue[Frame | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Frame | BaseException | None) -> bool:
        # Never blocks for good: gives up once the consumer has gone.
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in frames:
                if not put(item):
                    return
            put(None)
        except BaseException as exc:  # handed to the consumer, not lost in the thread
            put(exc)

    worker = threading.Thread(target=produce, name="video-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5.0)


def analyse_video(
    path: str | os.PathLike[str],
    settings: VideoSettings = VideoSettings(),
    limits: VideoLimits = VideoLimits(),
    progress: Callable[[int, int], None] | None = None,
) -> VideoAnalysis:
    """Every face of the video as a track covering every frame it may be on (raises VideoRejected).

    ``progress(frames done, frames expected)`` is called after each detection
    (the expected count is 0 when the container does not state a duration).
    """
    started = time.perf_counter()
    info = probe_video(path, limits)
    expected = expected_frames(info)
    step = settings.step(info.fps)
    tracker = FaceTracker(step, settings.tracker)
    crops: dict[int, list[_Crop]] = {}
    last_index = -1
    for frame in _prefetch(iter_frames(path, info, limits, every=step)):
        last_index = frame.index
        faces = detect_faces(prepare_image(Image.fromarray(frame.pixels), settings.engine.max_side),
                             settings.engine)
        for track_id, face in zip(tracker.update(frame.index, faces), faces):
            best = crops.setdefault(track_id, [])
            best.append(_crop(frame, face))
            best.sort(key=lambda c: c.quality, reverse=True)
            del best[settings.encode_per_track:]
        if progress is not None:
            progress(frame.index + 1, expected)
    tracks = tracker.finish(last_index + 1, info.fps, info.width, info.height)
    tracks = [_encode(track, crops.get(track.id, []), settings.engine) for track in tracks]
    return VideoAnalysis(info, step, last_index + 1, tuple(tracks), time.perf_counter() - started)


def expected_frames(info: VideoInfo) -> int:
    """Frames the video should have by its header (0 when it gives no duration)."""
    return round(info.duration * info.fps) if info.duration else 0


def _encode(track: Track, crops: Sequence[_Crop], engine: EngineSettings) -> Track:
    if not crops:
        return track
    encodings = tuple(
        encode_faces(Image.fromarray(c.pixels), [c.box], engine)[0] for c in crops
    )
    best = crops[0]
    height, width = best.pixels.shape[:2]
    region = head_region(Box(best.box.left, best.box.top, best.box.right, best.box.bottom),
                         width, height)
    crop = np.array(best.pixels[region.top:region.bottom, region.left:region.right])
    return replace(track, encodings=encodings, crop=crop)


def match_tracks(tracks: Sequence[Track], index: ReferenceIndex,
                 thresholds: MatchThresholds) -> list[MatchOutcome]:
    """One outcome per track, with the photo rules (``matching.classify``).

    A person's distance to a track is the WORST over the track's encodings:
    every best frame must agree, so a track that changed face (two children
    crossing) is not matched on its better half. One person at most one
    track at a time: when tracks that overlap in time match the same
    person, the closest keeps the match and the others become "ambiguous"
    (``assign_unique``'s rule, applied per time overlap instead of per photo).
    """
    outcomes: list[MatchOutcome] = []
    for track in tracks:
        if not track.encodings or index.person_count == 0:
            outcomes.append(classify([], thresholds))
            continue
        worst = index.person_distances(np.stack(track.encodings)).max(axis=0)
        candidates = [Candidate(pid, float(d)) for pid, d in zip(index.person_ids, worst)]
        ranked = sorted(candidates, key=lambda c: (c.distance, c.person_id))[:5]
        outcomes.append(classify(ranked, thresholds))
    return _unique_in_time(tracks, outcomes)


def _unique_in_time(tracks: Sequence[Track], outcomes: list[MatchOutcome]) -> list[MatchOutcome]:
    ranked = sorted(
        (i for i, o in enumerate(outcomes) if o.status == "matched"),
        key=lambda i: (outcomes[i].distance or 0.0, i),
    )
    kept: list[int] = []
    result = list(outcomes)
    for i in ranked:
        clash = any(
            outcomes[j].person_id == outcomes[i].person_id
            and tracks[j].first_frame <= tracks[i].last_frame
            and tracks[i].first_frame <= tracks[j].last_frame
            for j in kept
        )
        if clash:
            result[i] = replace(outcomes[i], status="ambiguous", person_id=None)
        else:
            kept.append(i)
    return result
