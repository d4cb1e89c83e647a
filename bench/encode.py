"""Milliseconds per face encoding (crop + rescale + landmarks + dlib ResNet).

Uses the annotated faces of bald_guys.jpg (24 faces, 94-242 px wide, reduced
to the 150 px encoding size) and of its 0.18x copy (17-43 px, enlarged), with
encode_faces exactly as the pipeline calls it. Models are loaded before
timing. One process, one thread; wall and CPU time.

Then the dlib build against the prebuilt ``dlib-bin`` wheel (no BLAS) that
the project used before: both encode the SAME crops with the same calls
(``bench/dlib_describe.py``), one after the other in the same run, and the
script prints ms per face (wall and CPU) for each build and how far apart
their 128-d vectors are (the match thresholds were calibrated on dlib-bin's
vectors). The dlib-bin interpreter is a virtualenv made on first use in
$TMPDIR/consentflow-bench/dlib-bin-venv (pip, from PyPI), or the one given
with --baseline-python; --no-baseline skips the comparison.

Run: .venv/bin/python bench/encode.py [--no-baseline] [--baseline-python PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import CACHE_DIR, FACES_DIR, Sample, machine, real_samples, scaled, table

from consentflow.faces import encoding
from consentflow.faces.engine import (
    FACEBOX_TO_DLIB,
    EngineSettings,
    FaceBox,
    encode_faces,
    prepare_image,
)

ROUNDS = 3
BASELINE_VENV = CACHE_DIR / "dlib-bin-venv"
BASELINE_PIN = "dlib-bin==20.0.1.post1"
DESCRIBE = Path(__file__).with_name("dlib_describe.py")


def _time(sample: Sample, settings: EngineSettings) -> tuple[float, float]:
    """ms per face, wall and CPU."""
    prepared = prepare_image(sample.path, settings.max_side)
    boxes = [FaceBox(*b, score=1.0, detector="annotation") for b in sample.faces]
    encode_faces(prepared, boxes[:1], settings)  # load models
    cpu, started = time.process_time(), time.perf_counter()
    for _ in range(ROUNDS):
        encode_faces(prepared, boxes, settings)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    per = 1000 / (ROUNDS * len(boxes))
    return wall * per, cpu * per


def _crops(sample: Sample, settings: EngineSettings) -> list[encoding.Crop]:
    """The crops encode_faces hands to dlib for the sample's annotated faces."""
    from PIL import Image

    prepared = prepare_image(sample.path, settings.max_side)
    fx = prepared.width / prepared.original_width
    fy = prepared.height / prepared.original_height
    image = Image.fromarray(prepared.pixels)
    return [
        encoding._crop(
            image,
            FACEBOX_TO_DLIB.apply(b[0] * fx, b[1] * fy, b[2] * fx, b[3] * fy),
            settings.encoding_face_px,
        )
        for b in sample.faces
    ]


def _baseline_python(given: str | None) -> str:
    if given:
        return given
    python = BASELINE_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing {BASELINE_PIN} into {BASELINE_VENV} (own venv, from PyPI)")
        subprocess.run([sys.executable, "-m", "venv", str(BASELINE_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", BASELINE_PIN, f"numpy=={np.__version__}"],
            check=True,
        )
    return str(python)


def _describe(python: str, crops: list[encoding.Crop]) -> dict[str, object]:
    directory = encoding._models_dir()
    job = {
        "crops": crops,
        "predictor": str(directory / encoding._MODEL_FILES["small"]),
        "recogniser": str(directory / encoding._RECOGNITION_FILE),
        "rounds": ROUNDS,
    }
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "job.pickle", Path(tmp) / "result.pickle"
        source.write_bytes(pickle.dumps(job))
        subprocess.run([python, str(DESCRIBE), str(source), str(target)], check=True)
        result: dict[str, object] = pickle.loads(target.read_bytes())  # noqa: S301
        return result


def _compare(samples: list[tuple[Sample, str]], baseline: str) -> None:
    settings = EngineSettings()
    rows, gaps = [], []
    for sample, size in samples:
        crops = _crops(sample, settings)
        ours = _describe(sys.executable, crops)
        theirs = _describe(baseline, crops)
        for label, result in (("this venv", ours), ("dlib-bin (before)", theirs)):
            per = 1000 / len(crops)
            rows.append(
                [
                    label,
                    result["version"],
                    "yes" if result["blas"] else "no",
                    "yes" if result["avx"] else "no",
                    size,
                    len(crops),
                    round(float(result["wall"]) * per, 1),  # type: ignore[arg-type]
                    round(float(result["cpu"]) * per, 1),  # type: ignore[arg-type]
                ]
            )
        a = np.asarray(ours["encodings"])
        b = np.asarray(theirs["encodings"])
        gaps.append(
            [size, len(crops), f"{np.abs(a - b).max():.2e}", f"{np.linalg.norm(a - b, axis=1).max():.2e}"]
        )
        speedup = float(theirs["cpu"]) / float(ours["cpu"])  # type: ignore[arg-type]
        rows.append(["", "", "", "", size, "", "", f"{speedup:.2f}x less CPU"])
    print("\n# dlib builds side by side, the same crops, best of", ROUNDS, "rounds\n")
    print(
        table(
            ["build", "dlib", "BLAS", "AVX", "face width", "faces", "ms/face wall", "ms/face CPU"],
            rows,
        )
    )
    print("\n# the same crops, this build's vectors against dlib-bin's\n")
    print(table(["face width", "faces", "max |component diff|", "max distance"], gaps))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--baseline-python", help="an interpreter with dlib-bin installed")
    args = parser.parse_args()
    full = next(s for s in real_samples() if s.name == "bald_guys.jpg")
    full = dataclasses.replace(full, path=FACES_DIR / full.name)
    small = scaled("bald_guys.jpg", 0.18)
    default = EngineSettings()
    variants = {
        "small model, 1 jitter (default)": default,
        "large model (68 points), 1 jitter": dataclasses.replace(default, encoding_model="large"),
        "small model, 10 jitters": dataclasses.replace(default, encoding_jitters=10),
    }
    import dlib

    print(
        f"# ms per face encoding; dlib {dlib.__version__} (BLAS "
        f"{'on' if dlib.DLIB_USE_BLAS else 'OFF'}, AVX "
        f"{'on' if dlib.USE_AVX_INSTRUCTIONS else 'off'}); machine: {machine()}\n"
    )
    rows = []
    for label, settings in variants.items():
        for sample, size in ((full, "94-242 px"), (small, "17-43 px")):
            wall, cpu = _time(sample, settings)
            rows.append([label, size, len(sample.faces), round(wall, 1), round(cpu, 1)])
    print(table(["settings", "face width", "faces", "ms/face wall", "ms/face CPU"], rows))
    if not args.no_baseline:
        _compare([(full, "94-242 px"), (small, "17-43 px")], _baseline_python(args.baseline_python))
        print(f"\n# machine at the end: {machine()}")


if __name__ == "__main__":
    main()
