"""Enrolment and retention follow the one "consent allows" rule (consent/effective.py).

The rule: only an explicit yes in the record in force allows a purpose. A
record in force whose form version no longer asks ``face_matching`` (so its
decisions lack the key) therefore does not allow matching: enrolment refuses,
the matching index leaves the person out and retention deletes the reference
faces. Before the fix retention read ``decisions.get(...) is False`` itself and
kept them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from consentflow.errors import ConsentMissing
from consentflow.models import ConsentForm, ConsentRecord, Person, ReferenceFace
from consentflow.photos.crypto import cipher_from_config
from consentflow.photos.enrol import matching_allowed, reference_index
from consentflow.photos.storage import storage_from_config
from consentflow.privacy.retention import apply_retention
from tests import factories
from tests.jobs.photo_helpers import ACTOR, NOW, TODAY, enrol, give_consent, school_year

pytestmark = pytest.mark.slow


def _supersede(session, person: Person, purposes: list[str], decisions: dict[str, bool]) -> ConsentRecord:
    """A record in force answering a newer form version (written directly, as a repair would)."""
    year = school_year(session, person.school_id)
    version = len(list(session.scalars(select(ConsentForm.id).where(
        ConsentForm.school_year_id == year.id)))) + 1
    form = ConsentForm(school_id=person.school_id, school_year_id=year.id, version=version,
                       title="Media", wording="...", purposes=purposes)
    session.add(form)
    session.flush()
    before = session.scalar(select(ConsentRecord.id).where(ConsentRecord.person_id == person.id)
                            .order_by(ConsentRecord.id.desc()).limit(1))
    record = ConsentRecord(school_id=person.school_id, person_id=person.id, school_year_id=year.id,
                           form_id=form.id, decisions=decisions, signer_kind="self",
                           signer_name=person.full_name, method="paper", signed_at=NOW,
                           supersedes_id=before)
    session.add(record)
    session.flush()
    return record


def _references(session, person: Person) -> list[int]:
    return list(session.scalars(select(ReferenceFace.id).where(ReferenceFace.person_id == person.id)))


def _retention(app, session, apply: bool):
    return apply_retention(session, actor=ACTOR, now=NOW, storage=storage_from_config(app.config),
                           encodings_grace_days=30, rejected_originals_days=30, apply=apply)


def test_record_in_force_without_face_matching_stops_enrolment_index_and_keeps_nothing(app, db_session):
    school = factories.school(db_session, biometric_mode="consented")
    person = factories.person(db_session, school=school)
    keeper = factories.person(db_session, school=school)
    give_consent(db_session, person, {"face_matching": True, "website": True})
    give_consent(db_session, keeper, {"face_matching": True, "website": True})
    enrol(app, db_session, school, person, "obama.jpg")
    enrol(app, db_session, school, keeper, "biden.jpg")
    cipher = cipher_from_config(app.config)
    assert reference_index(db_session, school, cipher, TODAY).person_count == 2

    # The newer form version does not ask face_matching: the record has no answer for it.
    _supersede(db_session, person, ["website"], {"website": True})
    db_session.commit()

    assert not matching_allowed(db_session, school, person.id, TODAY)
    with pytest.raises(ConsentMissing):
        enrol(app, db_session, school, person, "obama2.jpg")
    assert reference_index(db_session, school, cipher, TODAY).person_count == 1
    assert matching_allowed(db_session, school, keeper.id, TODAY)
    dry = _retention(app, db_session, apply=False)
    assert dry.reference_people == {person.id: "withdrew face_matching"}
    _retention(app, db_session, apply=True)
    db_session.commit()
    assert _references(db_session, person) == []
    assert len(_references(db_session, keeper)) == 1


def test_retention_deletes_reference_faces_of_an_explicit_withdrawal(app, db_session):
    """Written without the withdrawal event (as a paper repair would be): retention catches it."""
    school = factories.school(db_session, biometric_mode="all")
    person = factories.person(db_session, school=school)
    give_consent(db_session, person, {"face_matching": True})
    enrol(app, db_session, school, person, "obama.jpg")
    _supersede(db_session, person, ["face_matching"], {"face_matching": False})
    db_session.commit()
    assert len(_references(db_session, person)) == 1

    report = _retention(app, db_session, apply=True)
    db_session.commit()
    assert report.reference_people == {person.id: "withdrew face_matching"}
    assert _references(db_session, person) == []
