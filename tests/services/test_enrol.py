"""Reference faces: one face per portrait, modes, encryption at rest, deletion."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from sqlalchemy import func, select

from consentflow.errors import ConsentMissing, InvalidInput, InvalidState
from consentflow.events import PurposesWithdrawn, emit
from consentflow.faces.engine import EngineSettings, detect_faces, encode_faces, prepare_image
from consentflow.models import AuditEvent, Face, ReferenceFace
from consentflow.photos.crypto import EncodingCipher, FaceKeyError, cipher_from_config, load_key
from consentflow.photos.enrol import reference_index
from tests import factories
from tests.jobs.photo_helpers import (
    ACTOR,
    FACES,
    NOW,
    TODAY,
    enrol,
    face_bytes,
    faces_of,
    give_consent,
    run_jobs,
    upload,
)

pytestmark = pytest.mark.slow


def test_encrypted_column_does_not_contain_the_raw_encoding(app, db_session):
    school = factories.school(db_session, biometric_mode="all")
    person = factories.person(db_session, school=school)
    ref = enrol(app, db_session, school, person, "obama.jpg")
    db_session.commit()
    prepared = prepare_image(FACES / "obama.jpg", EngineSettings().max_side)
    [encoding] = encode_faces(prepared, detect_faces(prepared, EngineSettings()), EngineSettings())
    stored = bytes(db_session.get(ReferenceFace, ref.id).encoding_encrypted)
    for raw in (encoding.tobytes(), encoding.astype(np.float32).tobytes(),
                encoding[:8].tobytes(), encoding.astype(np.float32)[:8].tobytes()):
        assert raw not in stored
    decrypted = cipher_from_config(app.config).decrypt(stored)
    assert np.allclose(decrypted, encoding)
    # The key lives in a 0600 file outside the database, and another key cannot read it.
    mode = stat.S_IMODE(os.stat(app.config["FACE_KEY_FILE"]).st_mode)
    assert mode == 0o600
    other = EncodingCipher(load_key(None, str(app.instance_path) + "/other.key"))
    with pytest.raises(FaceKeyError):
        other.decrypt(stored)


def test_portrait_must_show_exactly_one_face(app, db_session):
    school = factories.school(db_session, biometric_mode="all")
    person = factories.person(db_session, school=school)
    with pytest.raises(InvalidInput, match="exactly one face"):
        enrol(app, db_session, school, person, "two_people.jpg")
    with pytest.raises(InvalidInput, match="No face"):
        enrol(app, db_session, school, person, "dogs.jpg")
    enrol(app, db_session, school, person, "obama.jpg")
    enrol(app, db_session, school, person, "obama2.jpg")  # several portraits per person
    with pytest.raises(InvalidInput, match="already enrolled"):
        enrol(app, db_session, school, person, "obama.jpg")
    assert db_session.scalar(select(func.count()).select_from(ReferenceFace)) == 2


def test_modes_govern_enrolment(app, db_session):
    school = factories.school(db_session, biometric_mode="consented")
    person = factories.person(db_session, school=school)
    with pytest.raises(ConsentMissing):
        enrol(app, db_session, school, person, "obama.jpg")
    give_consent(db_session, person, {"face_matching": True})
    enrol(app, db_session, school, person, "obama.jpg")
    school.biometric_mode = "off"
    with pytest.raises(InvalidState):
        enrol(app, db_session, school, person, "obama2.jpg")
    assert reference_index(db_session, school, cipher_from_config(app.config), TODAY) is None


def test_withdrawing_face_matching_deletes_reference_faces_and_matched_encodings(app, db_session):
    school = factories.school(db_session, biometric_mode="consented")
    person = factories.person(db_session, school=school)
    first = give_consent(db_session, person, {"face_matching": True})
    enrol(app, db_session, school, person, "obama.jpg")
    album = factories.album(db_session, school=school)
    db_session.commit()
    [r] = upload(app, db_session, album, [("o2.jpg", face_bytes("obama2.jpg"))])
    run_jobs(app)
    [face] = faces_of(db_session, r.photo_id)
    assert face.matched_person_id == person.id and face.encoding_encrypted is not None
    record = give_consent(db_session, person, {"face_matching": False})
    assert record.supersedes_id == first.id
    emit(db_session, PurposesWithdrawn(school_id=school.id, person_id=person.id,
                                       purposes=frozenset({"face_matching"}),
                                       record_id=record.id, at=NOW))
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(ReferenceFace)) == 0
    assert db_session.get(Face, face.id).encoding_encrypted is None
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "reference_face.purge"))
    assert event.subject_ids == [person.id] and event.details["reference_faces"] == 1


def test_other_withdrawals_keep_reference_faces(app, db_session):
    school = factories.school(db_session, biometric_mode="all")
    person = factories.person(db_session, school=school)
    enrol(app, db_session, school, person, "obama.jpg")
    record = give_consent(db_session, person, {"website.photo": False, "face_matching": True})
    emit(db_session, PurposesWithdrawn(school_id=school.id, person_id=person.id,
                                       purposes=frozenset({"website.photo"}), record_id=record.id,
                                       at=NOW))
    assert db_session.scalar(select(func.count()).select_from(ReferenceFace)) == 1


def test_person_who_left_loses_reference_faces(app, db_session):
    """Leaving is found by the roster import and confirmed; the reference faces go in the same transaction."""
    from consentflow.people.leavers import confirm_leavers
    from consentflow.people.service import import_roster

    school = factories.school(db_session, biometric_mode="all")
    stays = factories.person(db_session, school=school, external_id="100001")
    leaves = factories.person(db_session, school=school, external_id="100002")
    enrol(app, db_session, school, stays, "obama.jpg")
    enrol(app, db_session, school, leaves, "biden.jpg")
    roster = b"Student number;First name;Last name;Date of birth;Class\n100001;Sam;Stays;01-05-2012;2A\n"
    report = import_roster(db_session, actor=ACTOR, school_id=school.id, data=roster, kind="student",
                           today=TODAY, now=NOW, full_export=True, secret="s")
    assert [leaver.reference_faces for leaver in report.leavers] == [1]
    confirm_leavers(db_session, actor=ACTOR, school_id=school.id, token=report.leave_token, secret="s",
                    today=TODAY, now=NOW)
    assert leaves.left_on == TODAY
    remaining = db_session.scalars(select(ReferenceFace.person_id)).all()
    assert remaining == [stays.id]
    with pytest.raises(InvalidState):
        enrol(app, db_session, school, leaves, "obama2.jpg")
