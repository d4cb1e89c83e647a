"""Detection recall and false positives per detector configuration.

A face counts as found when some detected box has IoU >= 0.3 with its
annotated box (bench/annotations.json; derived images map those boxes). A
detection is a false positive when its IoU is < 0.3 with every annotated
face, "hard" face and "ignore" region. "hard" faces (out-of-focus bystanders,
half-hidden faces) are reported separately. Face sizes are box widths at the
working resolution the detectors see (longer side <= max_side).

Every configuration runs the engine's own prepare_image + detect_faces.

Run: /work/main/.venv/bin/python bench/recall.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence

from common import FOUND_IOU, Box, Sample, iou_matrix, machine, recall_samples, table

from consentflow.faces.engine import EngineSettings, FaceBox, detect_faces, prepare_image

DEFAULT = EngineSettings()
_BASE = dataclasses.replace(DEFAULT, hog=False, hog_side=0, centerface=False, tiling=False)


def _cfg(**changes: object) -> EngineSettings:
    return dataclasses.replace(_BASE, **changes)  # type: ignore[arg-type]


CONFIGS: dict[str, EngineSettings] = {
    "hog0": _cfg(hog=True, hog_upsample=0),
    "hog1": _cfg(hog=True, hog_upsample=1),
    "hog2": _cfg(hog=True, hog_upsample=2),
    "cf@0.4": _cfg(centerface=True, centerface_threshold=0.4),
    "cf@0.3": _cfg(centerface=True, centerface_threshold=0.3),
    "cf@0.4+tiles1.5x": _cfg(
        centerface=True, centerface_threshold=0.4, tiling=True, tile_upscale=1.5
    ),
    "cf@0.4+tiles2x": _cfg(
        centerface=True, centerface_threshold=0.4, tiling=True, tile_upscale=2.0
    ),
    "cf@0.3+tiles1.5x": _cfg(
        centerface=True, centerface_threshold=0.3, tiling=True, tile_upscale=1.5
    ),
    "hog0+cf@0.3": _cfg(hog=True, hog_upsample=0, centerface=True, centerface_threshold=0.3),
    "hog1+cf@0.3": _cfg(hog=True, hog_upsample=1, centerface=True, centerface_threshold=0.3),
    "hog1+cf@0.4+tiles2x": _cfg(
        hog=True,
        hog_upsample=1,
        centerface=True,
        centerface_threshold=0.4,
        tiling=True,
        tile_upscale=2.0,
    ),
    "default": DEFAULT,
}

SIZE_BUCKETS = (
    (0, 12, "<12px"),
    (12, 24, "12-24px"),
    (24, 40, "24-40px"),
    (40, 80, "40-80px"),
    (80, 10**9, ">=80px"),
)


@dataclasses.dataclass
class Score:
    faces: int = 0
    found: int = 0
    hard: int = 0
    hard_found: int = 0
    false_positives: int = 0
    blind_images: int = 0  # images with a face but no detection at all
    ms: float = 0.0
    images: int = 0
    by_size: dict[str, list[int]] = dataclasses.field(
        default_factory=lambda: {label: [0, 0] for _, _, label in SIZE_BUCKETS}
    )

    def add(self, other: Score) -> None:
        for name in ("faces", "found", "hard", "hard_found", "false_positives"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.blind_images += other.blind_images
        self.ms += other.ms
        self.images += other.images
        for label, (total, found) in other.by_size.items():
            self.by_size[label][0] += total
            self.by_size[label][1] += found


def _found(truth: Sequence[Box], boxes: list[tuple[int, int, int, int]]) -> list[bool]:
    overlaps = iou_matrix(truth, boxes)
    return [bool(len(boxes) and row.max() >= FOUND_IOU) for row in overlaps]


def evaluate(sample: Sample, settings: EngineSettings) -> tuple[Score, list[FaceBox]]:
    started = time.perf_counter()
    prepared = prepare_image(sample.path, settings.max_side)
    faces = detect_faces(prepared, settings)
    elapsed = (time.perf_counter() - started) * 1000
    boxes = [(f.left, f.top, f.right, f.bottom) for f in faces]
    score = Score(ms=elapsed, images=1)
    hits = _found(sample.faces, boxes)
    score.faces, score.found = len(hits), sum(hits)
    hard_hits = _found(sample.hard, boxes)
    score.hard, score.hard_found = len(hard_hits), sum(hard_hits)
    known = list(sample.faces) + list(sample.hard) + list(sample.ignore)
    overlaps = iou_matrix(boxes, known)
    score.false_positives = sum(1 for row in overlaps if not len(known) or row.max() < FOUND_IOU)
    score.blind_images = int(bool(sample.faces) and not faces)
    for box, hit in zip(sample.faces, hits):
        width = (box[2] - box[0]) * prepared.scale
        for low, high, label in SIZE_BUCKETS:
            if low <= width < high:
                score.by_size[label][0] += 1
                score.by_size[label][1] += int(hit)
    return score, faces


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", help="configuration names to run")
    args = parser.parse_args()
    configs = {k: v for k, v in CONFIGS.items() if not args.only or k in args.only}
    samples = recall_samples()
    # Load every model once so the first image's timing is not model loading.
    detect_faces(prepare_image(samples[0].path, 1600), EngineSettings())

    totals: dict[str, Score] = {}
    cells: dict[str, dict[str, str]] = {}
    for name, settings in configs.items():
        total = Score()
        for sample in samples:
            score, _ = evaluate(sample, settings)
            total.add(score)
            cells.setdefault(sample.name, {})[name] = (
                f"{score.found}/{score.faces} fp{score.false_positives} {score.ms:.0f}ms"
            )
        totals[name] = total

    print(f"# recall (IoU >= {FOUND_IOU}); machine: {machine()}\n")
    rows = []
    for name, t in totals.items():
        sizes = [f"{t.by_size[label][1]}/{t.by_size[label][0]}" for _, _, label in SIZE_BUCKETS]
        rows.append(
            [
                name,
                f"{t.found}/{t.faces}",
                round(t.found / t.faces, 3) if t.faces else "-",
                *sizes,
                f"{t.hard_found}/{t.hard}",
                t.false_positives,
                t.blind_images,
                round(t.ms / t.images),
            ]
        )
    headers = ["config", "found", "recall"] + [label for _, _, label in SIZE_BUCKETS]
    headers += ["hard", "false pos.", "blind imgs", "ms/img"]
    print(table(headers, rows))
    print("\n# per image: found/faces, false positives, ms (prepare + detect)\n")
    names = list(configs)
    print(table(["image", *names], [[img, *[c[n] for n in names]] for img, c in cells.items()]))
    print("\nsettings of 'default':", DEFAULT.as_dict())


if __name__ == "__main__":
    main()
