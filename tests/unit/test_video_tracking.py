"""The tracker on hand-made detections: association, gap filling, margins (no video needed)."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from consentflow.faces.engine import FaceBox
from consentflow.faces.matching import MatchThresholds, ReferenceIndex
from consentflow.photos.boxes import Box
from consentflow.video.analyse import match_tracks
from consentflow.video.tracking import FaceTracker, Track, TrackerSettings, boxes_per_frame

SIZE = 1000


def face(left: float, top: float, side: float = 60) -> FaceBox:
    return FaceBox(int(left), int(top), int(left + side), int(top + side), 0.9, "centerface")


def covers(box: Box, left: float, top: float, side: float = 60) -> bool:
    return box.left <= left and box.top <= top and box.right >= left + side and box.bottom >= top + side


def run(step: int, detections: dict[int, list[FaceBox]], frames: int,
        settings: TrackerSettings = TrackerSettings()) -> list[Track]:
    tracker = FaceTracker(step, settings)
    for frame in range(0, frames, step):
        tracker.update(frame, detections.get(frame, []))
    return tracker.finish(frames, 30.0, SIZE, SIZE)


def test_a_moving_face_is_one_track_covering_every_frame_between_detections() -> None:
    # 10 px per frame to the right, detected every 5th frame.
    dets = {f: [face(100 + 10 * f, 200)] for f in range(0, 50, 5)}
    tracks = run(5, dets, 50)
    assert len(tracks) == 1
    track = tracks[0]
    for frame in range(50):
        assert covers(track.boxes[frame], 100 + 10 * frame, 200), frame


def test_a_short_miss_keeps_the_track_and_the_gap_is_interpolated() -> None:
    # Detector misses the face on samples 20 and 25 (two misses allowed).
    dets = {f: [face(100 + 4 * f, 300)] for f in range(0, 60, 5) if f not in (20, 25)}
    tracks = run(5, dets, 60)
    assert len(tracks) == 1
    for frame in range(60):
        assert covers(tracks[0].boxes[frame], 100 + 4 * frame, 300), frame


def test_the_track_reaches_before_its_first_and_after_its_last_detection() -> None:
    # Face visible on frames 12..40 but sampled (every 5th) only on 15..40.
    dets = {f: [face(300, 300)] for f in range(15, 41, 5)}
    tracks = run(5, dets, 80)
    pad = (TrackerSettings().max_misses + 1) * 5
    assert tracks[0].first_frame == 15 - pad
    assert tracks[0].last_frame == 40 + pad


def test_a_long_absence_ends_the_track() -> None:
    dets = {f: [face(300, 300)] for f in list(range(0, 20, 5)) + list(range(60, 80, 5))}
    tracks = run(5, dets, 80)
    assert len(tracks) == 2


def test_fast_motion_without_overlap_is_still_one_track() -> None:
    # 10 px per frame: consecutive samples (5 frames) overlap by IoU 0.09 only;
    # the centre-distance fallback links the first two, then the
    # constant-velocity prediction overlaps again.
    dets = {f: [face(50 + 10 * f, 400)] for f in range(0, 40, 5)}
    tracks = run(5, dets, 40)
    assert len(tracks) == 1


def test_two_faces_keep_their_own_tracks() -> None:
    dets = {f: [face(100 + 5 * f, 100), face(800 - 5 * f, 600)] for f in range(0, 50, 5)}
    tracks = run(5, dets, 50)
    assert len(tracks) == 2
    lefts = sorted(t.boxes[0].left for t in tracks)
    assert lefts[0] < 150 < 700 < lefts[1]
    blur = boxes_per_frame(tracks)
    assert all(len(blur[f]) == 2 for f in range(50))


def test_margins_grow_with_distance_from_a_detection() -> None:
    dets = {f: [face(400, 400, 100)] for f in range(0, 30, 10)}
    track = run(10, dets, 30)[0]
    at_detection = track.boxes[10]
    between = track.boxes[15]
    assert between.right - between.left > at_detection.right - at_detection.left
    after = track.boxes[track.last_frame]
    assert after.right - after.left > between.right - between.left


def _track(track_id: int, first: int, last: int, encodings: list[np.ndarray]) -> Track:
    boxes = MappingProxyType({f: Box(0, 0, 10, 10) for f in range(first, last + 1)})
    return Track(id=track_id, fps=30.0, boxes=boxes, detections=(), encodings=tuple(encodings))


def test_one_person_is_at_most_one_track_at_a_time() -> None:
    rng = np.random.default_rng(3)
    person = rng.normal(0, 0.1, 128)
    other = rng.normal(0, 0.1, 128)
    index = ReferenceIndex([(1, person), (2, other)])
    near = [person + rng.normal(0, 0.01, 128) for _ in range(3)]
    nearer = [person + rng.normal(0, 0.005, 128) for _ in range(3)]
    tracks = [_track(1, 0, 50, near), _track(2, 40, 90, nearer), _track(3, 200, 260, near)]
    outcomes = match_tracks(tracks, index, MatchThresholds.defaults())
    # 1 and 2 overlap in time: the closer one (2) keeps the match; 3 comes later.
    assert [o.status for o in outcomes] == ["ambiguous", "matched", "matched"]
    assert [o.person_id for o in outcomes] == [None, 1, 1]


def test_a_track_that_changes_face_is_not_matched_on_its_better_half() -> None:
    rng = np.random.default_rng(4)
    person = rng.normal(0, 0.1, 128)
    stranger = rng.normal(0, 0.1, 128)
    index = ReferenceIndex([(1, person)])
    mixed = _track(1, 0, 50, [person, person, stranger])
    assert match_tracks([mixed], index, MatchThresholds.defaults())[0].status == "unknown"
    assert match_tracks([_track(2, 0, 50, [])], index, MatchThresholds.defaults())[0].status == "unknown"
