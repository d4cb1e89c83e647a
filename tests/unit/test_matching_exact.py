"""The matcher's edges, value by value, on made-up encodings (pure numpy, milliseconds).

Mutation testing (bench/mutate.py) showed that the ambiguity margin's
boundary, the nearest-k selection, the default number of candidates, the
distance kept on "unknown" and "ambiguous" outcomes, one-person-per-photo
after an unmatched face, and the thresholds' own checks could change with
the suite green. Each is pinned here.
"""

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

# Binary fractions: differences between them are exact in floating point.
T = MatchThresholds(strict=0.5, loose=0.625, margin=0.125)


def _at(x: float) -> np.ndarray:
    vector = np.zeros(128)
    vector[0] = x
    return vector


def test_thresholds_accept_their_edges_and_refuse_the_rest() -> None:
    assert MatchThresholds(0.5, 0.5, 0.0).loose == 0.5  # strict may equal loose; no margin at all is allowed
    for strict, loose, margin, words in ((0.6, 0.5, 0.1, "match thresholds need 0 < strict <= loose"),
                                         (0.0, 0.5, 0.1, "match thresholds need 0 < strict <= loose"),
                                         (0.4, 0.5, -0.01, "the ambiguity margin cannot be negative")):
        with pytest.raises(ValueError) as refused:
            MatchThresholds(strict, loose, margin)
        assert str(refused.value) == words
    assert MatchThresholds.defaults() == MatchThresholds.from_config(MATCH_DEFAULTS)
    assert T.as_dict() == {"match_strict": 0.5, "match_loose": 0.625, "match_margin": 0.125}


def test_an_index_needs_128_numbers_per_portrait_and_may_be_empty() -> None:
    with pytest.raises(ValueError) as refused:
        ReferenceIndex([(1, np.zeros(64))])
    assert str(refused.value) == "reference encodings must be 128-d vectors"
    empty = ReferenceIndex([])
    assert (len(empty), empty.person_count, empty.person_ids) == (0, 0, ())
    assert empty.match(_at(0.0)) == []
    assert empty.person_distances([_at(0.0), _at(1.0)]).shape == (2, 0)


def test_the_nearest_k_people_closest_first_five_by_default() -> None:
    # Eight people at distances 0.8, 0.1, 0.7, 0.2, ... from the query: any
    # selection that is not the true k nearest shows here.
    distances = {1: 0.8, 2: 0.1, 3: 0.7, 4: 0.2, 5: 0.6, 6: 0.3, 7: 0.5, 8: 0.4}
    index = ReferenceIndex([(p, _at(d)) for p, d in distances.items()] + [(2, _at(0.9))])
    query = _at(0.0)
    assert [c.person_id for c in index.match(query)] == [2, 4, 6, 8, 7]
    for k in (1, 2, 3):
        assert [c.person_id for c in index.match(query, top_k=k)] == [2, 4, 6][:k]
    assert [[c.person_id for c in row] for row in index.match_many([query, _at(0.75)])] == [
        [2, 4, 6, 8, 7], [1, 3, 2, 5, 7]]  # ties by person id; person 2 by its closer portrait
    assert index.match(query, top_k=0) == []
    assert index.match(query)[0] == Candidate(2, pytest.approx(0.1))


def test_a_rival_exactly_one_margin_away_is_no_rival() -> None:
    clear = classify([Candidate(1, 0.25), Candidate(2, 0.375)], T)
    assert (clear.status, clear.person_id) == ("matched", 1)
    close = classify([Candidate(1, 0.25), Candidate(2, 0.3125)], T)
    assert close == MatchOutcome("ambiguous", None, 0.25, (Candidate(1, 0.25), Candidate(2, 0.3125)))


def test_unknown_and_weak_keep_the_best_distance() -> None:
    assert classify([Candidate(1, 0.75)], T) == MatchOutcome("unknown", None, 0.75, (Candidate(1, 0.75),))
    assert classify([Candidate(1, 0.5625)], T) == MatchOutcome("weak", None, 0.5625, (Candidate(1, 0.5625),))
    assert classify([], T) == MatchOutcome("unknown", None, None, ())


def test_one_person_once_per_photo_even_after_an_unmatched_face() -> None:
    unknown = MatchOutcome("unknown", None, 0.7, ())
    far = MatchOutcome("matched", 1, 0.375, ())
    near = MatchOutcome("matched", 1, 0.25, ())
    result = assign_unique([unknown, far, near])
    assert [(o.status, o.person_id) for o in result] == [("unknown", None), ("ambiguous", None), ("matched", 1)]
    # Only matched faces compete: a suggestion outside "matched" never takes the person.
    suggestion = MatchOutcome("ambiguous", 1, 0.125, ())
    assert [(o.status, o.person_id) for o in assign_unique([suggestion, far])] == [
        ("ambiguous", 1), ("matched", 1)]


def test_the_k_nearest_of_many_people_for_every_k() -> None:
    # 60 people at shuffled distances: only a true nearest-k selection gets every k right.
    rng = np.random.default_rng(7)
    distances = rng.permutation(np.arange(1, 61) / 64.0)
    index = ReferenceIndex([(p, _at(d)) for p, d in enumerate(distances, start=1)])
    truth = [int(p) for p in np.argsort(distances) + 1]
    for k in range(1, 12):
        assert [c.person_id for c in index.match(_at(0.0), top_k=k)] == truth[:k]
