"""Follow faces through time: an IoU tracker with constant-velocity prediction.

The detector runs on every ``step``-th frame only. Between two detections
of a track its box is interpolated linearly; before its first and after its
last detection it is extrapolated with the track's last velocity for
``(max_misses + 1) * step`` frames, because the face may already (or still)
be there on frames that were not sampled, or on sampled frames where the
detector missed it. Every box grows with a margin that widens with the
distance (in sampled steps) from the nearest real detection: the further a
box is guessed, the more it covers. Over-blurring some background costs
nothing; an uncovered frame publishes a face.

Why our own tracker: the frames between detections need interpolation and
extrapolation with growing margins, which trackers built for
identity-tracking benchmarks (SORT/ByteTrack/norfair) do not give; they
would also add a dependency (filterpy/scipy/lap) for ~150 lines of code.
Association is greedy by IoU between each live track's predicted box and
the new detections, with a centre-distance fallback for fast motion
(IoU 0 between samples).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from consentflow.faces.encoding import Encoding
from consentflow.faces.engine import FaceBox, box_iou
from consentflow.photos.boxes import Box

FloatBox = npt.NDArray[np.float64]  # left, top, right, bottom


@dataclass(frozen=True)
class TrackerSettings:
    """Association and gap-filling knobs (sampled frames, shares of the box size)."""

    match_iou: float = 0.2
    # Fallback association: centres at most this many box sizes apart, sizes within 2x.
    max_centre_shift: float = 1.0
    # A track survives this many sampled frames without a detection.
    max_misses: int = 2
    # Margin on every side, as a share of the box width/height.
    margin: float = 0.1
    # Extra margin per sampled step away from the nearest detection.
    margin_per_step: float = 0.15


@dataclass(frozen=True)
class Detection:
    """A detector hit that belongs to a track."""

    frame: int
    box: FaceBox


@dataclass(frozen=True, eq=False)
class Track:
    """One face followed through the video.

    ``boxes`` maps every frame index the face may be visible on to its
    (grown) face box in upright display pixels; redaction adds the head
    margin on top. ``encodings`` are from the track's best frames;
    ``crop`` is a representative face image (RGB) for review.
    """

    id: int
    fps: float
    boxes: Mapping[int, Box]
    detections: tuple[Detection, ...]
    encodings: tuple[Encoding, ...] = ()
    crop: npt.NDArray[np.uint8] | None = field(default=None, repr=False)

    @property
    def first_frame(self) -> int:
        return min(self.boxes)

    @property
    def last_frame(self) -> int:
        return max(self.boxes)

    @property
    def first_time(self) -> float:
        return self.first_frame / self.fps

    @property
    def last_time(self) -> float:
        return self.last_frame / self.fps


@dataclass
class _Live:
    id: int
    frames: list[int]
    boxes: list[FloatBox]
    faces: list[FaceBox]
    misses: int = 0

    def velocity(self) -> FloatBox:
        if len(self.frames) < 2:
            return np.zeros(4)
        span = self.frames[-1] - self.frames[-2]
        result: FloatBox = (self.boxes[-1] - self.boxes[-2]) / max(1, span)
        return result

    def predict(self, frame: int) -> FloatBox:
        result: FloatBox = self.boxes[-1] + self.velocity() * (frame - self.frames[-1])
        return result


def _as_array(box: FaceBox) -> FloatBox:
    return np.array([box.left, box.top, box.right, box.bottom], dtype=np.float64)


def _iou(a: FloatBox, b: FloatBox) -> float:
    return box_iou(_Edges(*a), _Edges(*b))


@dataclass(frozen=True)
class _Edges:
    left: float
    top: float
    right: float
    bottom: float


def _close(a: FloatBox, b: FloatBox, shift: float) -> float | None:
    """Centre distance in box sizes when sizes are within 2x, else None."""
    size_a = max(1.0, float((a[2] - a[0] + a[3] - a[1]) / 2))
    size_b = max(1.0, float((b[2] - b[0] + b[3] - b[1]) / 2))
    if max(size_a, size_b) > 2 * min(size_a, size_b):
        return None
    centre_a = (a[:2] + a[2:]) / 2
    centre_b = (b[:2] + b[2:]) / 2
    distance = float(np.linalg.norm(centre_a - centre_b)) / ((size_a + size_b) / 2)
    return distance if distance <= shift else None


class FaceTracker:
    """Online association of sampled-frame detections into tracks."""

    def __init__(self, step: int, settings: TrackerSettings = TrackerSettings()) -> None:
        self.step = step
        self.settings = settings
        self._live: list[_Live] = []
        self._done: list[_Live] = []
        self._next_id = 1

    def update(self, frame: int, faces: Sequence[FaceBox]) -> list[int]:
        """Add the detections of one sampled frame; the track id of each face, in order."""
        boxes = [_as_array(f) for f in faces]
        predicted = [t.predict(frame) for t in self._live]
        assigned: dict[int, int] = {}  # face index -> live index
        pairs = sorted(
            ((_iou(p, b), ti, fi) for ti, p in enumerate(predicted) for fi, b in enumerate(boxes)),
            reverse=True,
        )
        used_tracks: set[int] = set()
        for overlap, ti, fi in pairs:
            if overlap < self.settings.match_iou:
                break
            if ti not in used_tracks and fi not in assigned:
                assigned[fi] = ti
                used_tracks.add(ti)
        near = sorted(
            (d, ti, fi)
            for ti, p in enumerate(predicted)
            for fi, b in enumerate(boxes)
            if ti not in used_tracks and fi not in assigned
            and (d := _close(p, b, self.settings.max_centre_shift)) is not None
        )
        for _, ti, fi in near:
            if ti not in used_tracks and fi not in assigned:
                assigned[fi] = ti
                used_tracks.add(ti)
        ids: list[int] = []
        for fi, (face, box) in enumerate(zip(faces, boxes)):
            match = assigned.get(fi)
            if match is None:
                live = _Live(self._next_id, [], [], [])
                self._next_id += 1
                self._live.append(live)
            else:
                live = self._live[match]
                live.misses = 0
            live.frames.append(frame)
            live.boxes.append(box)
            live.faces.append(face)
            ids.append(live.id)
        kept: list[_Live] = []
        for live in self._live:
            if live.frames[-1] != frame:
                live.misses += 1
            if live.misses > self.settings.max_misses:
                self._done.append(live)
            else:
                kept.append(live)
        self._live = kept
        return ids

    def finish(self, frame_count: int, fps: float, width: int, height: int) -> list[Track]:
        """Close every track and fill its boxes on every frame it may be visible on."""
        lives = sorted(self._done + self._live, key=lambda t: t.id)
        self._done, self._live = [], []
        return [
            fill_track(live.id, live.frames, live.faces, self.step, self.settings,
                       frame_count, fps, width, height)
            for live in lives
        ]


def fill_track(
    track_id: int,
    frames: Sequence[int],
    faces: Sequence[FaceBox],
    step: int,
    settings: TrackerSettings,
    frame_count: int,
    fps: float,
    width: int,
    height: int,
) -> Track:
    """A Track with a grown box on every frame from before its first to after its last detection."""
    anchors = np.array(frames, dtype=np.float64)
    coords = np.stack([_as_array(f) for f in faces])
    pad = (settings.max_misses + 1) * step
    start = max(0, frames[0] - pad)
    end = min(frame_count - 1, frames[-1] + pad)
    if len(frames) >= 2:
        head_velocity = (coords[1] - coords[0]) / max(1, frames[1] - frames[0])
        tail_velocity = (coords[-1] - coords[-2]) / max(1, frames[-1] - frames[-2])
    else:
        head_velocity = tail_velocity = np.zeros(4)
    boxes: dict[int, Box] = {}
    for frame in range(start, end + 1):
        if frame < frames[0]:
            box = coords[0] + head_velocity * (frame - frames[0])
        elif frame > frames[-1]:
            box = coords[-1] + tail_velocity * (frame - frames[-1])
        else:
            box = np.array([np.interp(frame, anchors, coords[:, i]) for i in range(4)])
        distance = float(np.min(np.abs(anchors - frame))) / step
        grow = settings.margin + settings.margin_per_step * distance
        w = max(1.0, float(box[2] - box[0]))
        h = max(1.0, float(box[3] - box[1]))
        grown = Box(
            left=max(0, int(np.floor(box[0] - grow * w))),
            top=max(0, int(np.floor(box[1] - grow * h))),
            right=min(width, int(np.ceil(box[2] + grow * w))),
            bottom=min(height, int(np.ceil(box[3] + grow * h))),
        )
        if grown.right > grown.left and grown.bottom > grown.top:
            boxes[frame] = grown
    if not boxes:
        # A detection is never dropped: fall back to its own box.
        first = faces[0]
        boxes[frames[0]] = Box(first.left, first.top, first.right, first.bottom)
    detections = tuple(Detection(f, face) for f, face in zip(frames, faces))
    return Track(id=track_id, fps=fps, boxes=MappingProxyType(boxes), detections=detections)


def boxes_per_frame(tracks: Sequence[Track]) -> dict[int, list[Box]]:
    """Frame index -> the face boxes of every given track on that frame."""
    result: dict[int, list[Box]] = {}
    for track in tracks:
        for frame, box in track.boxes.items():
            result.setdefault(frame, []).append(box)
    return result
