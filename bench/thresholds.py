"""Distances between real face encodings: where the match thresholds come from.

Encodes every annotated face of the real images (annotated boxes, default
EngineSettings) and reports the Euclidean distances between faces of the
same person on different photos and of different people. Then runs a
leave-one-photo-out identification: each face is matched against all other
photos as references and classified with the default thresholds.

Downscaled copies of bald_guys.jpg show how encodings of small faces degrade.

Small sample (6 people, 40 face photos of adults): read the figures as a
sanity check of face_recognition's documented 0.6 tolerance, not as a
calibration for children's faces.

Run: /work/main/.venv/bin/python bench/thresholds.py
"""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
from common import ANNOTATIONS, FACES_DIR, Sample, machine, scaled, table

from consentflow.config import MATCH_DEFAULTS
from consentflow.faces.engine import EngineSettings, FaceBox, encode_faces, prepare_image
from consentflow.faces.matching import (
    MatchThresholds,
    ReferenceIndex,
    classify,
)

THRESHOLDS = MatchThresholds.from_config(MATCH_DEFAULTS)
STRICT_THRESHOLD, LOOSE_THRESHOLD, AMBIGUITY_MARGIN = (
    THRESHOLDS.strict,
    THRESHOLDS.loose,
    THRESHOLDS.margin,
)

# Files that are crops or copies of one photo: pairs inside a group are not
# "different photos" and are left out.
# Found by their near-zero distances (0.06-0.08) and checked by eye.
SAME_SOURCE = {
    "obama.jpg": "obama-a",
    "obama_partial_face.jpg": "obama-a",
    "obama_partial_face2.jpg": "obama-a",
    "obama_small.jpg": "obama-a",
    "obama2.jpg": "obama-b",
    "32bit.png": "obama-b",
    "obama3.jpg": "white-house",
    "biden.jpg": "white-house",
    "two_people.jpg": "white-house",
}
SKIP = {"32bit.png"}  # identical pixels to obama2.jpg


def _encode(name: str, path: object, boxes: list[tuple[int, int, int, int]]) -> list[np.ndarray]:
    settings = EngineSettings()
    prepared = prepare_image(path, settings.max_side)  # type: ignore[arg-type]
    faces = [FaceBox(*b, score=1.0, detector="annotation") for b in boxes]
    return encode_faces(prepared, faces, settings)


def _stats(values: list[float]) -> list[object]:
    v = np.array(values)
    bands = [
        int((v < STRICT_THRESHOLD).sum()),
        int(((v >= STRICT_THRESHOLD) & (v < LOOSE_THRESHOLD)).sum()),
        int((v >= LOOSE_THRESHOLD).sum()),
    ]
    quantiles = [float(np.min(v)), *np.percentile(v, [5, 50, 95]).tolist(), float(np.max(v))]
    return [len(v), *[round(q, 3) for q in quantiles], *bands]


def main() -> None:
    data = json.loads(ANNOTATIONS.read_text())["images"]
    # (identity, source photo, encoding)
    faces: list[tuple[str, str, np.ndarray]] = []
    for name, entry in data.items():
        if name in SKIP or not entry["faces"]:
            continue
        boxes = [tuple(b) for b in entry["faces"]]
        encodings = _encode(name, FACES_DIR / name, boxes)  # type: ignore[arg-type]
        for i, (identity, enc) in enumerate(zip(entry["identities"], encodings)):
            # The collage holds 24 separate photos; other files are one photo.
            photo = f"{name}#{i}" if name == "bald_guys.jpg" else SAME_SOURCE.get(name, name)
            faces.append((identity, photo, enc))

    same: list[float] = []
    different: list[float] = []
    for (id_a, src_a, a), (id_b, src_b, b) in itertools.combinations(faces, 2):
        if src_a == src_b and id_a == id_b:
            continue  # crops or copies of one photo
        distance = float(np.linalg.norm(a - b))
        (same if id_a == id_b else different).append(distance)

    # Small faces: bald_guys at lower resolutions against full-size encodings.
    full = [(i, e) for i, s, e in faces if s.startswith("bald_guys.jpg#")]
    small_rows = []
    for factor in (0.35, 0.18):
        sample: Sample = scaled("bald_guys.jpg", factor)
        small = _encode(sample.name, sample.path, sample.faces)
        same_small: list[float] = []
        diff_small: list[float] = []
        for k, enc in enumerate(small):
            for j, (identity, ref) in enumerate(full):
                if j == k:
                    continue  # the same photo at full size
                distance = float(np.linalg.norm(enc - ref))
                (same_small if identity == full[k][0] else diff_small).append(distance)
        widths = [b[2] - b[0] for b in sample.faces]
        label = f"bald_guys@{factor:g} ({min(widths)}-{max(widths)} px)"
        small_rows.append([f"same person, {label}", *_stats(same_small)])
        small_rows.append([f"different, {label}", *_stats(diff_small)])

    headers = ["pairs", "n", "min", "p5", "median", "p95", "max"]
    headers += [
        f"<{STRICT_THRESHOLD}",
        f"{STRICT_THRESHOLD}-{LOOSE_THRESHOLD}",
        f">={LOOSE_THRESHOLD}",
    ]
    print(f"# encoding distances (default settings); machine: {machine()}\n")
    rows = [
        ["same person, different photos", *_stats(same)],
        ["different people", *_stats(different)],
    ]
    print(table(headers, rows + small_rows))

    # Leave-one-photo-out identification: references are all faces on other
    # photos, person id = identity; people with no other photo are "not enrolled".
    person_ids = {identity: n for n, identity in enumerate(sorted({f[0] for f in faces}))}
    outcomes: Counter[str] = Counter()
    for identity, source, enc in faces:
        refs = [(person_ids[i], e) for i, s, e in faces if s != source]
        enrolled = any(i == identity for i, s, _ in faces if s != source)
        outcome = classify(ReferenceIndex(refs).match(enc, top_k=5), THRESHOLDS)
        if outcome.status == "matched":
            right = outcome.person_id == person_ids[identity]
            key = "matched, right person" if right else "matched, WRONG person"
        else:
            key = f"{outcome.status} ({'enrolled' if enrolled else 'not enrolled'})"
        outcomes[key] += 1
    print(
        f"\n# leave-one-photo-out identification (strict {STRICT_THRESHOLD}, "
        f"loose {LOOSE_THRESHOLD}, margin {AMBIGUITY_MARGIN})\n"
    )
    print(table(["outcome", "faces"], sorted(outcomes.items())))


if __name__ == "__main__":
    main()
