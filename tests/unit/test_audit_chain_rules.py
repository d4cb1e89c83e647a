"""The audit chain's hashing rules, pure: fixed outputs, every field sealed, erasure forms.

Mutation testing (bench/mutate.py) edits audit/chain.py one small change at a
time. A stored chain verifies only if the rules hash exactly as when it was
written, so the rule-1 and rule-2 hashes of one event are pinned to their
values: any change to a rule (a key dropped, another JSON separator, subject
ids sorted or not) breaks every stored chain and must fail here first.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timezone

import pytest

from consentflow.audit.chain import (
    ALTERED,
    ERASED,
    EventFields,
    canonical,
    commit_value,
    commitments,
    erase_value,
    event_hash,
    personal_display,
    personal_problem,
)

SALT = "00112233445566778899aabbccddeeff"
NAME = commit_value("Joë de Vries", SALT)
EVENT = EventFields(
    id=7, hash_version=2, at=datetime(2026, 10, 5, 9, 30, 1, 5, tzinfo=timezone.utc), school_id=3,
    actor_id=4, actor_label="pr@school.example", action="consent.recorded", object_type="person",
    object_id="12", details={"b": [1, 2], "a": "é"}, personal={"name": NAME}, subject_ids=[9, 2],
    prev_hash="ab" * 32,
)
# Printed by this code on 2026-12-02; a stored chain depends on them staying so.
GOLDEN_COMMITMENT = "3a25bca73f74dd1fa23a8c4fe90144b6a2eda85dee6a8de3f7c46e1116cd1dfe"
GOLDEN_RULE_2 = "9cf1567da385599f74c5826a9b2f9206692237d8610926cad1f34502eaa89df6"
GOLDEN_RULE_1 = "ff125f6e8e7b52ded2b175e62ceeb0c3016fdb3f0cb1023280be14de51ec9d4e"


def test_rules_hash_as_when_the_chain_was_written() -> None:
    assert canonical({"b": [1, 2], "a": "é"}) == '{"a":"é","b":[1,2]}'
    # Dates and other non-JSON values in details are sealed as their text, not refused.
    assert canonical({"on": date(2026, 1, 2)}) == '{"on":"2026-01-02"}'
    assert NAME == {"v": "Joë de Vries", "s": SALT, "c": GOLDEN_COMMITMENT}
    assert event_hash(EVENT) == GOLDEN_RULE_2
    assert event_hash(dataclasses.replace(EVENT, hash_version=1)) == GOLDEN_RULE_1


def test_every_field_is_sealed_by_rule_2() -> None:
    base = event_hash(EVENT)
    changes = dict(
        id=8, at=datetime(2026, 10, 5, 9, 30, 1, 6, tzinfo=timezone.utc), school_id=None, actor_id=5,
        actor_label="x", action="consent.withdrawn", object_type="photo", object_id="13",
        details={"b": [1, 2], "a": "e"}, personal={"name": commit_value("Joë de Vries", "ff" * 16)},
        subject_ids=[2, 9], prev_hash="cd" * 32,
    )
    for name, value in changes.items():
        assert event_hash(dataclasses.replace(EVENT, **{name: value})) != base, name


def test_rule_1_ignores_id_and_subject_order_but_seals_the_rest() -> None:
    old = dataclasses.replace(EVENT, hash_version=1)
    assert event_hash(dataclasses.replace(old, id=None)) == event_hash(old)
    assert event_hash(dataclasses.replace(old, subject_ids=[2, 9])) == event_hash(old)
    assert event_hash(dataclasses.replace(old, subject_ids=[2])) != event_hash(old)
    assert event_hash(dataclasses.replace(old, prev_hash="cd" * 32)) != event_hash(old)


def test_unknown_rule_or_missing_id_cannot_be_sealed() -> None:
    for bad in (dataclasses.replace(EVENT, hash_version=3), dataclasses.replace(EVENT, id=None)):
        with pytest.raises(ValueError, match=r"cannot seal an event with hash rule \d and id (7|None)"):
            event_hash(bad)


def test_fresh_salts_are_random_and_long() -> None:
    one, two = commit_value("x"), commit_value("x")
    assert one["s"] != two["s"] and len(one["s"]) == 32 and one["c"] != two["c"]
    assert set(one) == {"v", "s", "c"}


def test_erasure_keeps_only_the_commitment() -> None:
    erased = erase_value(NAME)
    assert erased == {"c": NAME["c"], "erased": True}
    assert commitments({"name": erased, "z": None}) == {"name": NAME["c"], "z": None}
    assert personal_problem({"name": erased}) is None
    assert personal_display({"name": erased}) == {"name": ERASED}
    # Rule-1 erasure left the value as the exact marker: still accepted, nothing else is.
    assert personal_problem({"name": {**erased, "v": ERASED}}) is None
    for forged in ({**erased, "v": "Joë"}, {**erased, "s": SALT}, {"c": NAME["c"], "erased": "true"},
                   {"c": None, "erased": True}, {"erased": True}):
        assert personal_problem({"name": forged}) == "name", forged
        assert personal_display({"name": forged}) == {"name": ALTERED}


def test_live_values_must_match_their_commitment_exactly() -> None:
    assert personal_problem({"name": NAME}) is None
    assert personal_display({"name": NAME, "age": commit_value(12, SALT)}) == {"age": "12", "name": "Joë de Vries"}
    for forged in ({**NAME, "v": "Jan"}, {**NAME, "s": ""}, {**NAME, "s": 5}, {**NAME, "x": 1},
                   {"v": NAME["v"], "c": NAME["c"]}, "Joë"):
        assert personal_problem({"name": forged}) == "name", forged
        assert personal_display({"name": forged}) == {"name": ALTERED}
    # The first bad key, in sorted order, is named.
    assert personal_problem({"b": "bad", "a": "bad", "c": NAME}) == "a"
    assert personal_display({}) == {} and personal_display(None) == {}  # type: ignore[arg-type]
