"""Match face encodings against a school's reference faces, and classify matches.

Pure numpy. Distances are Euclidean between dlib 128-d encodings (the metric
face_recognition's ``face_distance`` uses). Several reference portraits per
person are allowed; a person's distance is their closest portrait.

Deny by default: only ``status == "matched"`` names a person. Everything
else (ambiguous, weak, unknown) is blurred until a reviewer decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

# The strict/loose thresholds and the ambiguity margin have ONE definition:
# the MATCH_STRICT / MATCH_LOOSE / MATCH_MARGIN configuration keys (their
# defaults and the reasons for them are in consentflow/config.py). Callers
# build a ``MatchThresholds`` from the configuration and pass it on; no module
# keeps its own copy of the numbers.

Status = Literal["matched", "ambiguous", "weak", "unknown"]
FloatMatrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MatchThresholds:
    """When a distance names a person (see ``classify``); built from the configuration.

    ``strict``: below it, a clear best candidate is "matched". ``loose``:
    below it a candidate is worth showing a reviewer. ``margin``: two
    people closer than this to each other in distance are "ambiguous".
    """

    strict: float
    loose: float
    margin: float

    def __post_init__(self) -> None:
        if not 0.0 < self.strict <= self.loose:
            raise ValueError("match thresholds need 0 < strict <= loose")
        if self.margin < 0.0:
            raise ValueError("the ambiguity margin cannot be negative")

    @classmethod
    def defaults(cls) -> MatchThresholds:
        """The shipped defaults, for code that runs without an app (benches, tests)."""
        from consentflow.config import MATCH_DEFAULTS

        return cls.from_config(MATCH_DEFAULTS)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MatchThresholds:
        """The configured MATCH_STRICT, MATCH_LOOSE and MATCH_MARGIN."""
        return cls(
            strict=float(config["MATCH_STRICT"]),
            loose=float(config["MATCH_LOOSE"]),
            margin=float(config["MATCH_MARGIN"]),
        )

    def as_dict(self) -> dict[str, float]:
        """For results and audit records."""
        return {"match_strict": self.strict, "match_loose": self.loose,
                "match_margin": self.margin}


@dataclass(frozen=True)
class Candidate:
    """One person and the distance of their closest reference portrait."""

    person_id: int
    distance: float


@dataclass(frozen=True)
class MatchOutcome:
    """The classification of one face. ``person_id`` is set only when matched."""

    status: Status
    person_id: int | None
    distance: float | None
    candidates: tuple[Candidate, ...]


class ReferenceIndex:
    """All reference encodings of a school as one (N, 128) matrix.

    Rows are grouped by person so that the best distance per person is one
    ``np.minimum.reduceat`` over the distance vector, with no Python loop
    over references.
    """

    def __init__(self, references: Iterable[tuple[int, npt.ArrayLike]]) -> None:
        pairs = list(references)
        person_ids = np.array([int(p) for p, _ in pairs], dtype=np.int64)
        if pairs:
            matrix = np.stack([np.asarray(e, dtype=np.float64).reshape(-1) for _, e in pairs])
        else:
            matrix = np.zeros((0, 128), dtype=np.float64)
        if matrix.ndim != 2 or (pairs and matrix.shape[1] != 128):
            raise ValueError("reference encodings must be 128-d vectors")
        order = np.argsort(person_ids, kind="stable")
        self._matrix: FloatMatrix = np.ascontiguousarray(matrix[order])
        sorted_ids = person_ids[order]
        # First row of each person's block (empty for an empty index).
        is_start = np.ones(len(sorted_ids), dtype=bool)
        is_start[1:] = sorted_ids[1:] != sorted_ids[:-1]
        self._starts: npt.NDArray[np.intp] = np.flatnonzero(is_start)
        self._persons: npt.NDArray[np.int64] = sorted_ids[self._starts]
        # |r|^2 once, so distances are one matrix product per query.
        self._sq_norms = np.einsum("ij,ij->i", self._matrix, self._matrix)

    def __len__(self) -> int:
        return int(self._matrix.shape[0])

    @property
    def person_count(self) -> int:
        return int(self._persons.shape[0])

    @property
    def person_ids(self) -> tuple[int, ...]:
        """The persons in the column order of ``person_distances`` (ascending id)."""
        return tuple(int(p) for p in self._persons)

    def person_distances(self, encodings: npt.ArrayLike) -> FloatMatrix:
        """(M, P) best distance from each encoding to each person (sorted by id)."""
        queries = np.atleast_2d(np.asarray(encodings, dtype=np.float64))
        if len(self) == 0:
            return np.zeros((queries.shape[0], 0))
        q_norms = np.einsum("ij,ij->i", queries, queries)
        squared = q_norms[:, None] - 2.0 * queries @ self._matrix.T + self._sq_norms[None, :]
        per_person = np.minimum.reduceat(squared, self._starts, axis=1)
        # Rounding can push an exact match slightly below zero.
        result: FloatMatrix = np.sqrt(np.maximum(per_person, 0.0))
        return result

    def _top(self, row: FloatMatrix, top_k: int) -> list[Candidate]:
        k = min(top_k, row.shape[0])
        if k <= 0:
            return []
        nearest = np.argpartition(row, k - 1)[:k] if k < row.shape[0] else np.arange(row.shape[0])
        # Ties broken by person id so results are deterministic.
        nearest = nearest[np.lexsort((self._persons[nearest], row[nearest]))]
        return [Candidate(int(self._persons[i]), float(row[i])) for i in nearest]

    def match(self, encoding: npt.ArrayLike, top_k: int = 5) -> list[Candidate]:
        """The ``top_k`` closest persons (one entry per person), closest first."""
        return self._top(self.person_distances(encoding)[0], top_k)

    def match_many(self, encodings: npt.ArrayLike, top_k: int = 5) -> list[list[Candidate]]:
        """``match`` for each row of an (M, 128) array, in one matrix product."""
        distances = self.person_distances(encodings)
        return [self._top(row, top_k) for row in distances]


def classify(candidates: Sequence[Candidate], thresholds: MatchThresholds) -> MatchOutcome:
    """Decide one face from its candidates (closest first, one per person).

    matched: best < strict and no other person within ``margin`` of it;
    ambiguous: best < loose and another person within ``margin``;
    weak: strict <= best < loose; unknown: no candidate below ``loose``.
    """
    strict, loose, margin = thresholds.strict, thresholds.loose, thresholds.margin
    ranked = tuple(sorted(candidates, key=lambda c: (c.distance, c.person_id)))
    if not ranked:
        return MatchOutcome("unknown", None, None, ranked)
    best = ranked[0]
    if best.distance >= loose:
        return MatchOutcome("unknown", None, best.distance, ranked)
    rival = next((c for c in ranked[1:] if c.person_id != best.person_id), None)
    if rival is not None and rival.distance - best.distance < margin:
        return MatchOutcome("ambiguous", None, best.distance, ranked)
    if best.distance < strict:
        return MatchOutcome("matched", best.person_id, best.distance, ranked)
    return MatchOutcome("weak", None, best.distance, ranked)


def assign_unique(outcomes: Sequence[MatchOutcome]) -> list[MatchOutcome]:
    """One person at most once per photo.

    When several faces of one photo are matched to the same person, the
    closest keeps the match (ties: the first face) and the others become
    "ambiguous" with no person: deny by default, a reviewer decides.
    """
    winner: dict[int, int] = {}
    for index, outcome in enumerate(outcomes):
        if outcome.status != "matched" or outcome.person_id is None:
            continue
        current = winner.get(outcome.person_id)
        if current is None or _closer(outcome, outcomes[current]):
            winner[outcome.person_id] = index
    result: list[MatchOutcome] = []
    for index, outcome in enumerate(outcomes):
        if (
            outcome.status == "matched"
            and outcome.person_id is not None
            and winner[outcome.person_id] != index
        ):
            outcome = replace(outcome, status="ambiguous", person_id=None)
        result.append(outcome)
    return result


def _closer(a: MatchOutcome, b: MatchOutcome) -> bool:
    return (a.distance if a.distance is not None else np.inf) < (
        b.distance if b.distance is not None else np.inf
    )
