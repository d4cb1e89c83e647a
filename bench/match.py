"""Milliseconds to match face encodings against 1,000 / 10,000 / 40,000 references.

References are SYNTHETIC: random Gaussian 128-d vectors normalised to unit
length (dlib encodings have norms near 1), 2 portraits per person, float64.
Distance work does not depend on the values, only on the sizes. Timed:
ReferenceIndex.match (one face, top 5 persons) and match_many (a 200-face
group photo in one call); building the index is timed separately.

Run: /work/main/.venv/bin/python bench/match.py
"""

from __future__ import annotations

import time

import numpy as np
from common import machine, table

from consentflow.config import MATCH_DEFAULTS
from consentflow.faces.matching import MatchThresholds, ReferenceIndex, classify

THRESHOLDS = MatchThresholds.from_config(MATCH_DEFAULTS)

REPEATS = 50


def _references(count: int, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    vectors = rng.normal(size=(count, 128))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [(i // 2, v) for i, v in enumerate(vectors)]


def main() -> None:
    rng = np.random.default_rng(20261121)
    rows = []
    for count in (1_000, 10_000, 40_000):
        refs = _references(count, rng)
        started = time.perf_counter()
        index = ReferenceIndex(refs)
        build_ms = (time.perf_counter() - started) * 1000
        query = refs[7][1] + rng.normal(scale=0.01, size=128)
        index.match(query)  # warm-up
        started = time.perf_counter()
        for _ in range(REPEATS):
            outcome = classify(index.match(query, top_k=5), THRESHOLDS)
        one_ms = (time.perf_counter() - started) * 1000 / REPEATS
        assert outcome.person_id == 3, outcome  # the query is a noisy copy of person 3
        group = rng.normal(size=(200, 128))
        group /= np.linalg.norm(group, axis=1, keepdims=True)
        started = time.perf_counter()
        for _ in range(5):
            index.match_many(group, top_k=5)
        many_ms = (time.perf_counter() - started) * 1000 / 5
        rows.append(
            [
                f"{count:,}",
                f"{index.person_count:,}",
                round(build_ms, 1),
                round(one_ms, 2),
                round(many_ms, 1),
                round(many_ms / 200, 3),
            ]
        )
    print(f"# matching, synthetic unit-norm encodings; machine: {machine()}\n")
    print(
        table(
            [
                "references",
                "persons",
                "build ms",
                "ms / 1 face",
                "ms / 200 faces",
                "ms per face (batch)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
