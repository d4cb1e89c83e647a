"""Effective consent in batches: every chunk read, the latest record of the year wins.

Mutation testing (bench/mutate.py) looks for edits to consent/effective.py the
suite would not notice. The batched lookup splits people into chunks of
_CHUNK ids; with the real 2,000 a school never crosses a boundary in a test,
so the chunk size is made small here and a chunk slicing error (a person
skipped or read twice, an older record winning) fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from consentflow.consent import effective
from consentflow.consent.effective import allows, consent_map, effective_records, has_consent
from tests import factories
from tests.services.test_consent_records import record, year_and_form

WEB = "website.photo"


def test_batches_cover_every_person_and_keep_the_latest_record(app, db_session, monkeypatch) -> None:
    monkeypatch.setattr(effective, "_CHUNK", 2)
    school = factories.school(db_session)
    old_year, old_form = year_and_form(db_session, school, on=date(2025, 9, 1))
    year, form = year_and_form(db_session, school)
    people = [factories.person(db_session, school=school, dob=date(2013, 3, 3)) for _ in range(5)]
    latest = {}
    for i, person in enumerate(people):
        parent = factories.guardian(db_session, school=school, children=[person])
        # Last year's yes never counts this year; this year, the second record wins.
        record(db_session, app, person, old_year, old_form, {WEB: True}, guardian=parent,
               signed_at=datetime(2025, 9, 5, 10, tzinfo=timezone.utc))
        record(db_session, app, person, year, form, {WEB: i % 2 == 1}, guardian=parent)
        latest[person.id] = record(db_session, app, person, year, form, {WEB: i % 2 == 0}, guardian=parent)
    db_session.commit()
    on = date(2026, 10, 2)
    ids = [p.id for p in reversed(people)]  # order and duplicates in the input do not matter
    found = effective_records(db_session, [*ids, ids[0]], on)
    assert {pid: r.id for pid, r in found.items()} == {pid: r.id for pid, r in latest.items()}
    mapping = consent_map(db_session, ids, [WEB], on)
    assert {key: (r.id if r else None) for key, r in mapping.items()} == {
        (pid, WEB): latest[pid].id for pid in ids}
    assert [has_consent(db_session, p.id, WEB, on) for p in people] == [True, False, True, False, True]
    assert effective_records(db_session, [], on) == {}


@dataclass
class _Record:
    decisions: dict[str, object] = field(default_factory=dict)


def test_allows_only_an_explicit_true() -> None:
    assert allows(_Record({WEB: True}), WEB)
    for value in (1, "yes", "true", None, False):
        assert not allows(_Record({WEB: value}), WEB)
    assert not allows(_Record({"press.photo": True}), WEB)
    assert not allows(None, WEB)


def test_only_the_asked_people_and_the_year_of_the_day_count(app, db_session) -> None:
    school = factories.school(db_session)
    year, form = year_and_form(db_session, school)
    old_year, old_form = year_and_form(db_session, school, on=date(2025, 9, 1))
    asked = factories.person(db_session, school=school, dob=date(2013, 3, 3))
    other = factories.person(db_session, school=school, dob=date(2013, 4, 4))
    parent = factories.guardian(db_session, school=school, children=[asked, other])
    this_year = record(db_session, app, asked, year, form, {WEB: True}, guardian=parent)
    # Entered afterwards (a higher id), for last year: never this year's answer.
    record(db_session, app, asked, old_year, old_form, {WEB: False}, guardian=parent,
           signed_at=datetime(2025, 9, 5, 10, tzinfo=timezone.utc))
    record(db_session, app, other, year, form, {WEB: True}, guardian=parent)
    db_session.commit()
    on = date(2026, 10, 2)
    assert {pid: r.id for pid, r in effective_records(db_session, [asked.id], on).items()} == {
        asked.id: this_year.id}
    assert effective.effective_record(db_session, asked.id, WEB, on).id == this_year.id
    # The first and the last day of a school year belong to it.
    assert has_consent(db_session, asked.id, WEB, year.starts_on)
    assert has_consent(db_session, asked.id, WEB, year.ends_on)
    assert asked.id in effective_records(db_session, [asked.id], year.starts_on)
    assert not has_consent(db_session, asked.id, WEB, old_year.ends_on)
