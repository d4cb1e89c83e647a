"""Fit the box-geometry maps between dlib HOG boxes and FaceBox (annotation) boxes.

For every annotated face in the real images that dlib's HOG detector (upsample
1, default threshold) also finds, compare the two boxes; the medians become
``HOG_TO_FACEBOX`` and ``FACEBOX_TO_DLIB`` in consentflow/faces/engine.py.

Run: /work/main/.venv/bin/python bench/calibrate.py
"""

from __future__ import annotations

import numpy as np
from common import FACES_DIR, iou, real_samples, table

from consentflow.faces import detectors
from consentflow.faces.engine import prepare_image


def main() -> None:
    forward: list[tuple[float, float, float, float]] = []
    inverse: list[tuple[float, float, float, float]] = []
    for sample in real_samples():
        prepared = prepare_image(FACES_DIR / sample.name, 100_000)
        hog = detectors.hog_detect(np.asarray(prepared.pixels), 1)
        for face in sample.faces:
            scored = [(iou(face, h[:4]), h) for h in hog]
            if not scored:
                continue
            best_iou, h = max(scored, key=lambda t: t[0])
            if best_iou < 0.3:
                continue
            hw, hh = h[2] - h[0], h[3] - h[1]
            fw, fh = face[2] - face[0], face[3] - face[1]
            hcx, hcy = (h[0] + h[2]) / 2, (h[1] + h[3]) / 2
            fcx, fcy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
            forward.append(((fcx - hcx) / hw, (fcy - hcy) / hh, fw / hw, fh / hh))
            inverse.append(((hcx - fcx) / fw, (hcy - fcy) / fh, hw / fw, hh / fh))
    rows = []
    for label, pairs in (("HOG_TO_FACEBOX", forward), ("FACEBOX_TO_DLIB", inverse)):
        values = np.array(pairs)
        med = np.median(values, axis=0)
        iqr = np.percentile(values, 75, axis=0) - np.percentile(values, 25, axis=0)
        rows.append([label, len(values), *[f"{m:.3f} (±{q / 2:.3f})" for m, q in zip(med, iqr)]])
    print(table(["map", "pairs", "dx", "dy", "sw", "sh"], rows))
    print("values: median (half inter-quartile range) over the pairs")


if __name__ == "__main__":
    main()
