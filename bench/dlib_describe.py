"""Encode pickled face crops with whatever dlib this interpreter has; time it.

Run by ``bench/encode.py`` in the project's interpreter and in a second one
with another dlib build (the prebuilt ``dlib-bin`` wheel), so that both
builds encode exactly the same crops with the same code and are timed the
same way. Needs only numpy and dlib (no consentflow import), so the second
virtualenv stays small.

Input (pickle): ``{"crops": [(pixels, (left, top, right, bottom)), ...],
"predictor": path, "recogniser": path, "rounds": n}``. Output (pickle):
the encodings (float64, one row per crop), wall and CPU seconds per round
(best round), and the build's flags.

Same calls as ``consentflow.faces.encoding.describe``: the 5-point landmark
model on the crop's box, then ``compute_face_descriptor`` with 1 jitter.
"""

from __future__ import annotations

import os
import pickle
import sys
import time

# As consentflow.faces does: one BLAS thread (parallelism is per process).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import dlib  # noqa: E402
import numpy as np  # noqa: E402


def main(source: str, target: str) -> None:
    with open(source, "rb") as handle:
        job = pickle.load(handle)  # noqa: S301 - written by bench/encode.py
    predictor = dlib.shape_predictor(job["predictor"])
    recogniser = dlib.face_recognition_model_v1(job["recogniser"])

    def describe() -> np.ndarray:
        rows = []
        for pixels, (left, top, right, bottom) in job["crops"]:
            shape = predictor(pixels, dlib.rectangle(left, top, right, bottom))
            rows.append(np.array(recogniser.compute_face_descriptor(pixels, shape, 1)))
        return np.array(rows, dtype=np.float64)

    describe()  # warm-up: first-call allocations, BLAS thread start
    best_wall, best_cpu, encodings = float("inf"), float("inf"), None
    for _ in range(job["rounds"]):
        cpu, wall = time.process_time(), time.perf_counter()
        encodings = describe()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best_wall:
            best_wall, best_cpu = wall, cpu
    result = {
        "encodings": encodings,
        "wall": best_wall,
        "cpu": best_cpu,
        "version": dlib.__version__,
        "blas": bool(getattr(dlib, "DLIB_USE_BLAS", False)),
        "avx": bool(getattr(dlib, "USE_AVX_INSTRUCTIONS", False)),
        "executable": sys.executable,
    }
    with open(target, "wb") as handle:
        pickle.dump(result, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
