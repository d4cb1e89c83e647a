"""Milliseconds per face encoding (crop + rescale + landmarks + dlib ResNet).

Uses the annotated faces of bald_guys.jpg (24 faces, 94-242 px wide, reduced
to the 150 px encoding size) and of its 0.18x copy (17-43 px, enlarged), with
encode_faces exactly as the pipeline calls it. Models are loaded before
timing. One process, one thread.

Run: /work/main/.venv/bin/python bench/encode.py
"""

from __future__ import annotations

import dataclasses
import time

from common import FACES_DIR, Sample, machine, real_samples, scaled, table

from consentflow.faces.engine import EngineSettings, FaceBox, encode_faces, prepare_image

ROUNDS = 3


def _time(sample: Sample, settings: EngineSettings) -> float:
    prepared = prepare_image(sample.path, settings.max_side)
    boxes = [FaceBox(*b, score=1.0, detector="annotation") for b in sample.faces]
    encode_faces(prepared, boxes[:1], settings)  # load models
    started = time.perf_counter()
    for _ in range(ROUNDS):
        encode_faces(prepared, boxes, settings)
    return (time.perf_counter() - started) * 1000 / (ROUNDS * len(boxes))


def main() -> None:
    full = next(s for s in real_samples() if s.name == "bald_guys.jpg")
    full = dataclasses.replace(full, path=FACES_DIR / full.name)
    small = scaled("bald_guys.jpg", 0.18)
    default = EngineSettings()
    variants = {
        "small model, 1 jitter (default)": default,
        "large model (68 points), 1 jitter": dataclasses.replace(default, encoding_model="large"),
        "small model, 10 jitters": dataclasses.replace(default, encoding_jitters=10),
    }
    rows = []
    for label, settings in variants.items():
        for sample, size in ((full, "94-242 px"), (small, "17-43 px")):
            rows.append([label, size, len(sample.faces), round(_time(sample, settings), 1)])
    print(f"# ms per face encoding; machine: {machine()}\n")
    print(table(["settings", "face width", "faces", "ms/face"], rows))


if __name__ == "__main__":
    main()
