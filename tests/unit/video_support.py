"""Helpers shared by tests/unit/test_video_*.py: real faces composed into short clips."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.videoclip import Actor, TruthBox
from consentflow.photos.boxes import Box
from consentflow.publish.redact import head_region

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 12, 3.5

# Obama crosses left to right and grows; Biden moves right to left and
# shrinks, below him (no occlusion); a second Obama photo walks in from the
# right edge half-way through.
ACTORS: tuple[Actor, ...] = (
    Actor(FACES / "obama.jpg", start=(110, 85), end=(470, 100), width=(56, 84)),
    Actor(FACES / "biden.jpg", start=(540, 290), end=(200, 285), width=(76, 60)),
    Actor(FACES / "obama2.jpg", start=(700, 150), end=(560, 200), width=(64, 64), enter=1.5),
)
OBAMA, BIDEN, OBAMA2 = 0, 1, 2


def contains(outer: Box, inner: TruthBox, slack: int = 1) -> bool:
    return (outer.left <= inner.left + slack and outer.top <= inner.top + slack
            and outer.right >= inner.right - slack and outer.bottom >= inner.bottom - slack)


def uncovered(
    truth: Mapping[int, Sequence[TruthBox]],
    blur: Mapping[int, Sequence[Box]],
    actors: set[int],
    width: int = WIDTH,
    height: int = HEIGHT,
    min_visible: float = 0.5,
) -> list[tuple[int, int]]:
    """(frame, actor) pairs whose face is on screen but outside every blurred head region."""
    missing: list[tuple[int, int]] = []
    for frame, boxes in sorted(truth.items()):
        regions = [head_region(b, width, height) for b in blur.get(frame, ())]
        for face in boxes:
            if face.actor in actors and face.visible >= min_visible:
                if not any(contains(region, face) for region in regions):
                    missing.append((frame, face.actor))
    return missing
