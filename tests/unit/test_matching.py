"""Pure tests of consentflow.faces.matching (constructed encodings, no dlib)."""

from __future__ import annotations

import numpy as np
import pytest

from consentflow.config import MATCH_DEFAULTS
from consentflow.faces.matching import (
    Candidate,
    MatchOutcome,
    MatchThresholds,
    ReferenceIndex,
    assign_unique,
    classify,
)

pytestmark = pytest.mark.filterwarnings("ignore:pkg_resources is deprecated")


def _basis(i: int) -> np.ndarray:
    v = np.zeros(128)
    v[i] = 1.0
    return v


def _at(origin: np.ndarray, distance: float, axis: int) -> np.ndarray:
    """A vector exactly ``distance`` from ``origin`` along basis ``axis``."""
    return origin + distance * _basis(axis)


ORIGIN = np.full(128, 0.05)
DEFAULTS = MatchThresholds.from_config(MATCH_DEFAULTS)
STRICT_THRESHOLD, LOOSE_THRESHOLD, AMBIGUITY_MARGIN = (
    DEFAULTS.strict,
    DEFAULTS.loose,
    DEFAULTS.margin,
)


def test_thresholds_are_ordered_and_loose_is_face_recognition_default() -> None:
    assert LOOSE_THRESHOLD == 0.6
    assert 0 < STRICT_THRESHOLD < LOOSE_THRESHOLD
    assert 0 < AMBIGUITY_MARGIN < LOOSE_THRESHOLD - STRICT_THRESHOLD


@pytest.mark.parametrize(
    ("strict", "loose", "margin"), [(0.0, 0.6, 0.05), (0.61, 0.6, 0.05), (0.5, 0.6, -0.01)]
)
def test_inconsistent_thresholds_are_refused(strict: float, loose: float, margin: float) -> None:
    with pytest.raises(ValueError):
        MatchThresholds(strict, loose, margin)


def test_thresholds_come_from_the_configuration_keys() -> None:
    config = {"MATCH_STRICT": "0.41", "MATCH_LOOSE": 0.55, "MATCH_MARGIN": 0.02, "OTHER": 1}
    assert MatchThresholds.from_config(config) == MatchThresholds(0.41, 0.55, 0.02)


def test_best_distance_per_person_over_several_portraits() -> None:
    index = ReferenceIndex(
        [
            (7, _at(ORIGIN, 0.9, 0)),
            (3, _at(ORIGIN, 0.45, 1)),
            (7, _at(ORIGIN, 0.2, 2)),  # person 7's closest portrait
            (7, _at(ORIGIN, 0.8, 3)),
            (5, _at(ORIGIN, 0.7, 4)),
        ]
    )
    assert len(index) == 5
    assert index.person_count == 3
    result = index.match(ORIGIN, top_k=5)
    assert [c.person_id for c in result] == [7, 3, 5]  # one entry per person
    assert [round(c.distance, 6) for c in result] == [0.2, 0.45, 0.7]
    assert [c.person_id for c in index.match(ORIGIN, top_k=2)] == [7, 3]


def test_match_agrees_with_brute_force_and_match_many() -> None:
    rng = np.random.default_rng(1)
    refs = rng.normal(size=(300, 128))
    people = rng.integers(0, 60, size=300)
    index = ReferenceIndex(zip(people.tolist(), refs))
    queries = rng.normal(size=(4, 128))
    many = index.match_many(queries, top_k=4)
    for query, from_many in zip(queries, many):
        per_person: dict[int, float] = {}
        for person, ref in zip(people.tolist(), refs):
            d = float(np.linalg.norm(query - ref))
            per_person[person] = min(d, per_person.get(person, np.inf))
        expected = sorted(per_person.items(), key=lambda kv: kv[1])[:4]
        single = index.match(query, top_k=4)
        assert [c.person_id for c in single] == [p for p, _ in expected]
        assert [c.distance for c in single] == pytest.approx([d for _, d in expected])
        assert [c.person_id for c in from_many] == [c.person_id for c in single]
        assert [c.distance for c in from_many] == pytest.approx([c.distance for c in single])


def test_empty_index_gives_unknown() -> None:
    index = ReferenceIndex([])
    assert index.match(ORIGIN) == []
    assert index.match_many(np.stack([ORIGIN, ORIGIN])) == [[], []]
    outcome = classify(index.match(ORIGIN), DEFAULTS)
    assert outcome == MatchOutcome("unknown", None, None, ())


def test_rejects_encodings_that_are_not_128_d() -> None:
    with pytest.raises(ValueError):
        ReferenceIndex([(1, np.zeros(64))])


def _classify_from(distances: dict[int, float]) -> MatchOutcome:
    """Build a real index whose persons sit at the given distances, then classify."""
    refs = [(person, _at(ORIGIN, d, axis)) for axis, (person, d) in enumerate(distances.items())]
    return classify(ReferenceIndex(refs).match(ORIGIN), DEFAULTS)


def test_clear_match_below_strict() -> None:
    outcome = _classify_from({11: 0.30, 12: 0.75})
    assert outcome.status == "matched"
    assert outcome.person_id == 11
    assert outcome.distance == pytest.approx(0.30)
    assert [c.person_id for c in outcome.candidates] == [11, 12]


def test_second_person_within_margin_is_ambiguous() -> None:
    outcome = _classify_from({11: 0.30, 12: 0.30 + AMBIGUITY_MARGIN / 2})
    assert outcome.status == "ambiguous"
    assert outcome.person_id is None


def test_second_person_just_outside_margin_is_still_matched() -> None:
    outcome = _classify_from({11: 0.30, 12: 0.30 + AMBIGUITY_MARGIN + 0.01})
    assert (outcome.status, outcome.person_id) == ("matched", 11)


def test_between_strict_and_loose_is_weak_without_person() -> None:
    outcome = _classify_from({11: (STRICT_THRESHOLD + LOOSE_THRESHOLD) / 2, 12: 0.9})
    assert outcome.status == "weak"
    assert outcome.person_id is None
    assert outcome.candidates[0].person_id == 11  # still offered to the reviewer


def test_close_rivals_in_the_weak_band_are_ambiguous() -> None:
    outcome = _classify_from({11: 0.54, 12: 0.56})
    assert outcome.status == "ambiguous"


def test_beyond_loose_is_unknown() -> None:
    outcome = _classify_from({11: LOOSE_THRESHOLD + 0.05})
    assert outcome.status == "unknown"
    assert outcome.person_id is None


@pytest.mark.parametrize(
    ("best", "status"),
    [
        (STRICT_THRESHOLD - 1e-6, "matched"),
        (STRICT_THRESHOLD, "weak"),
        (LOOSE_THRESHOLD, "unknown"),
    ],
)
def test_threshold_boundaries(best: float, status: str) -> None:
    outcome = classify([Candidate(1, best), Candidate(2, 0.95)], DEFAULTS)
    assert outcome.status == status


def test_same_person_twice_in_candidates_is_not_a_rival() -> None:
    outcome = classify([Candidate(4, 0.30), Candidate(4, 0.31), Candidate(9, 0.80)], DEFAULTS)
    assert (outcome.status, outcome.person_id) == ("matched", 4)


def test_custom_thresholds_are_used() -> None:
    candidates = [Candidate(1, 0.45), Candidate(2, 0.9)]
    assert classify(candidates, DEFAULTS).status == "matched"
    assert classify(candidates, MatchThresholds(0.4, 0.6, 0.05)).status == "weak"
    assert classify(candidates, MatchThresholds(0.3, 0.4, 0.05)).status == "unknown"
    assert classify(candidates, MatchThresholds(0.5, 0.95, 0.5)).status == "ambiguous"


def _matched(person: int, distance: float) -> MatchOutcome:
    return classify([Candidate(person, distance), Candidate(person + 1000, 0.95)], DEFAULTS)


def test_assign_unique_keeps_only_the_closest_face_per_person() -> None:
    outcomes = [_matched(5, 0.40), _matched(6, 0.35), _matched(5, 0.25), classify([], DEFAULTS)]
    assert [o.status for o in outcomes] == ["matched", "matched", "matched", "unknown"]
    result = assign_unique(outcomes)
    assert [(o.status, o.person_id) for o in result] == [
        ("ambiguous", None),
        ("matched", 6),
        ("matched", 5),
        ("unknown", None),
    ]
    # Candidates stay available to the reviewer.
    assert result[0].candidates == outcomes[0].candidates


def test_assign_unique_tie_goes_to_the_first_face() -> None:
    result = assign_unique([_matched(5, 0.30), _matched(5, 0.30)])
    assert [(o.status, o.person_id) for o in result] == [("matched", 5), ("ambiguous", None)]


def test_assign_unique_leaves_distinct_people_alone() -> None:
    outcomes = [_matched(1, 0.3), _matched(2, 0.3), _matched(3, 0.45)]
    assert assign_unique(outcomes) == outcomes
