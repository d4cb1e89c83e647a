"""Erasure, subject access export and retention on a real database."""

from __future__ import annotations

import json
import os
import zipfile
from datetime import date, timedelta

import numpy as np
from sqlalchemy import select

from consentflow.audit.service import Actor, record_event, verify_chain
from consentflow.models import AuditEvent, Face, Publication, ReferenceFace, utcnow
from consentflow.photos.crypto import cipher_from_config
from consentflow.privacy.retention import apply_retention
from consentflow.privacy.service import erase_person
from consentflow.review.service import reject_photo
from tests.services.test_publish_support import (
    APPROVED_AT,
    add_face,
    add_photo,
    build_world,
    confirm_both,
    consent,
)


def _encoding(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=128)


def _enrol(db_session, app, w, person, n=2):
    cipher = cipher_from_config(app.config)
    for i in range(n):
        db_session.add(ReferenceFace(school_id=w.school.id, person_id=person.id,
                                     portrait_sha256=f"{person.id:02d}{i:062d}",
                                     encoding_encrypted=cipher.encrypt(_encoding(person.id * 10 + i))))
    db_session.flush()


def _give_encodings(app, faces):
    cipher = cipher_from_config(app.config)
    for i, face in enumerate(faces):
        face.encoding_encrypted = cipher.encrypt(_encoding(1000 + i))


def test_erasure_leaves_no_encodings_and_a_verifying_chain(app, db_session, runner):
    w = build_world(db_session, app)
    _enrol(db_session, app, w, w.obama)
    _enrol(db_session, app, w, w.biden)
    other_photo = add_photo(db_session, w, "obama.jpg")
    other_face = add_face(db_session, other_photo, (180, 120, 420, 420), matched=w.obama)
    _give_encodings(app, [w.obama_face, w.biden_face, other_face])
    consent(db_session, w, w.obama, {"website.photo"}, at=APPROVED_AT)
    confirm_both(db_session, w)
    record_event(db_session, actor=Actor.system("test"), action="person.note", object_type="person",
                 object_id=w.obama.id, school_id=w.school.id, subject_ids=[w.obama.id],
                 personal={"name": "Barack Obama", "email": "barack@example.org"})
    db_session.commit()
    obama_faces = [w.obama_face.id, other_face.id]

    report = erase_person(db_session, actor=w.actor, school_id=w.school.id, person_id=w.obama.id,
                          now=utcnow(), storage=w.storage)
    db_session.commit()

    assert report.reference_faces == 2
    assert db_session.scalars(select(ReferenceFace).where(
        ReferenceFace.person_id == w.obama.id)).all() == []
    for face_id in obama_faces:
        face = db_session.get(Face, face_id)
        assert face.encoding_encrypted is None
        assert face.matched_person_id is None
        assert all(c["person_id"] != w.obama.id for c in face.candidates)
    # Another person's data is untouched.
    assert len(db_session.scalars(select(ReferenceFace).where(
        ReferenceFace.person_id == w.biden.id)).all()) == 2
    assert db_session.get(Face, w.biden_face.id).encoding_encrypted is not None
    # The personal values are gone from the audit trail, and the chain still verifies.
    note = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "person.note"))
    dumped = json.dumps(note.personal)
    assert "Barack" not in dumped and "barack@example.org" not in dumped
    assert verify_chain(db_session, app.config["AUDIT_HEAD_FILE"]).ok
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_subject_access_export_cli(app, db_session, runner, tmp_path):
    w = build_world(db_session, app)
    record = consent(db_session, w, w.obama, {"social_media.photo"}, at=APPROVED_AT)
    confirm_both(db_session, w)
    db_session.add(Publication(
        school_id=w.school.id, photo_id=w.photo.id, purpose="social_media",
        derivative_sha256="a" * 64, maker_credit="J. Fotograaf", published_at=APPROVED_AT,
        snapshot=[
            {"face_id": w.obama_face.id, "person_id": w.obama.id, "name": "Barack Obama",
             "decision": "show", "consent_record_id": record.id},
            {"face_id": w.biden_face.id, "person_id": w.biden.id, "name": "Joe Biden",
             "decision": "blur_no_consent", "consent_record_id": None},
        ]))
    db_session.commit()
    out = tmp_path / "sar.zip"

    result = runner.invoke(args=["privacy", "export", str(w.obama.id), "--out", str(out)])

    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        data = json.loads(archive.read("data.json"))
        html = archive.read("index.html").decode()
    assert data["person"]["last_name"] == "Obama"
    assert [r["id"] for r in data["consent_records"]] == [record.id]
    assert data["consent_records"][0]["evidence_sha256"] == "0" * 64
    assert [p["photo_id"] for p in data["photos_matched"]] == [w.photo.id]
    (pub,) = data["publications"]
    mine = next(e for e in pub["snapshot"] if e["person_id"] == w.obama.id)
    assert mine["consent_record_id"] == record.id
    # Other people in the photo are not part of this person's export.
    assert "Joe Biden" not in json.dumps(data) and "Joe Biden" not in html
    assert "Obama" in html and "0" * 64 in html
    assert db_session.scalar(select(AuditEvent).where(
        AuditEvent.action == "person.subject_access_export")) is not None


def test_retention_dry_run_changes_nothing_and_apply_deletes(app, db_session, runner):
    w = build_world(db_session, app)
    now = utcnow()
    long_ago = now - timedelta(days=60)
    _enrol(db_session, app, w, w.obama)
    _enrol(db_session, app, w, w.biden)
    w.biden.left_on = date.today() - timedelta(days=1)
    _give_encodings(app, [w.obama_face, w.biden_face])
    w.photo.state = "published"
    db_session.add(Publication(school_id=w.school.id, photo_id=w.photo.id, purpose="website",
                               derivative_sha256="b" * 64, snapshot=[], published_at=long_ago))
    fresh = add_photo(db_session, w, "obama2.jpg", state="published")
    fresh_face = add_face(db_session, fresh, (10, 10, 100, 100), matched=w.obama)
    _give_encodings(app, [fresh_face])
    db_session.add(Publication(school_id=w.school.id, photo_id=fresh.id, purpose="website",
                               derivative_sha256="c" * 64, snapshot=[], published_at=now))
    rejected = add_photo(db_session, w, "dogs.jpg")
    reject_photo(db_session, actor=w.actor, school_id=w.school.id, photo_id=rejected.id,
                 reason="blurry", expected_version=None, now=long_ago)
    rejected_key = rejected.storage_key
    db_session.commit()

    dry = runner.invoke(args=["retention", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would delete 2 face encoding(s)" in dry.output
    assert "Would delete 1 original(s)" in dry.output
    db_session.expire_all()
    assert db_session.get(Face, w.obama_face.id).encoding_encrypted is not None
    assert w.storage.exists(rejected_key)

    applied = runner.invoke(args=["retention", "--apply"])
    assert applied.exit_code == 0, applied.output
    db_session.expire_all()
    assert db_session.get(Face, w.obama_face.id).encoding_encrypted is None
    assert db_session.get(Face, w.biden_face.id).encoding_encrypted is None
    # Within the grace period: kept.
    assert db_session.get(Face, fresh_face.id).encoding_encrypted is not None
    assert db_session.get(type(rejected), rejected.id).storage_key is None
    assert not w.storage.exists(rejected_key)
    # Biden left school: no reference faces; Obama keeps his.
    assert db_session.scalars(select(ReferenceFace.id).where(
        ReferenceFace.person_id == w.biden.id)).all() == []
    assert len(db_session.scalars(select(ReferenceFace.id).where(
        ReferenceFace.person_id == w.obama.id)).all()) == 2
    assert verify_chain(db_session).ok


def test_retention_keeps_a_shared_original(app, db_session):
    w = build_world(db_session, app)
    long_ago = utcnow() - timedelta(days=60)
    album2 = type(w.album)(school_id=w.school.id, title="Other", event_date=date(2026, 9, 1),
                           purposes=["website"])
    db_session.add(album2)
    db_session.flush()
    rejected = add_photo(db_session, w, "dogs.jpg")
    reject_photo(db_session, actor=w.actor, school_id=w.school.id, photo_id=rejected.id,
                 reason="no", expected_version=None, now=long_ago)
    w.album = album2
    same_file = add_photo(db_session, w, "dogs.jpg")  # same bytes, same storage key
    assert same_file.storage_key == rejected.storage_key
    apply_retention(db_session, actor=w.actor, now=utcnow(), storage=w.storage,
                    encodings_grace_days=7, rejected_originals_days=30, apply=True)
    assert rejected.storage_key is None
    assert w.storage.exists(same_file.storage_key)
    assert os.path.isdir(app.config["STORAGE_DIR"])
