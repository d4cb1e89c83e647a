"""The configured match thresholds are the ones processing classifies with (real dlib, real images).

One definition (MATCH_STRICT / MATCH_LOOSE / MATCH_MARGIN in the config): a
school that tightens a threshold must see a real face classified differently,
and the photo's recorded engine settings name the thresholds that were used.
"""

from __future__ import annotations

import pytest

from consentflow.photos import service
from tests import factories
from tests.jobs.photo_helpers import ACTOR, NOW, enrol, face_bytes, faces_of, photo, run_jobs, upload

pytestmark = pytest.mark.slow


def _reprocess(app, db_session, photo_id: int):
    from consentflow.jobs import enqueue

    service.reprocess_photo(db_session, ACTOR, photo(db_session, photo_id), now=NOW)
    db_session.commit()
    enqueue("process_photo", photo_id)
    run_jobs(app)
    [face] = faces_of(db_session, photo_id)
    return face


def test_configured_thresholds_change_the_classification_of_a_real_face(app, db_session) -> None:
    school = factories.school(db_session, biometric_mode="all")
    barack = factories.person(db_session, school=school, first="Barack")
    enrol(app, db_session, school, barack, "obama.jpg")
    album = factories.album(db_session, school=school)
    db_session.commit()
    [result] = upload(app, db_session, album, [("o2.jpg", face_bytes("obama2.jpg"))])
    run_jobs(app)
    [face] = faces_of(db_session, result.photo_id)
    assert (face.match_status, face.matched_person_id) == ("matched", barack.id)
    measured = face.distance
    assert measured is not None and measured > 0.05

    # Strict just below the measured distance: the same face is only "weak".
    app.config["MATCH_STRICT"] = round(measured - 0.02, 4)
    face = _reprocess(app, db_session, result.photo_id)
    assert face.distance == pytest.approx(measured, abs=1e-4)
    assert (face.match_status, face.matched_person_id) == ("weak", None)
    recorded = photo(db_session, result.photo_id).engine_settings
    assert recorded["match_strict"] == app.config["MATCH_STRICT"]

    # Loose below it too: "unknown", and the encoding is not kept.
    app.config["MATCH_LOOSE"] = round(measured - 0.01, 4)
    face = _reprocess(app, db_session, result.photo_id)
    assert (face.match_status, face.matched_person_id) == ("unknown", None)
    assert face.encoding_encrypted is None

    # Back to a configuration that matches: the configured values, not constants, decide.
    app.config["MATCH_STRICT"] = round(measured + 0.02, 4)
    app.config["MATCH_LOOSE"] = round(measured + 0.1, 4)
    face = _reprocess(app, db_session, result.photo_id)
    assert (face.match_status, face.matched_person_id) == ("matched", barack.id)
