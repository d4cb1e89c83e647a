"""What erasure and retention leave behind: no cached image copy, no decrypted encoding, true counts.

Real database, real images (tests/data/faces), real encryption; each test
breaks if its rule is dropped (see the report of the upload-security round).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from sqlalchemy import select

from consentflow.models import Face, ReferenceFace, utcnow
from consentflow.photos import enrol
from consentflow.photos.crypto import cipher_from_config
from consentflow.photos.derived import DISPLAY_SIDE, SIDES, THUMB_SIDE, derived_image, derived_key
from consentflow.privacy.service import erase_person
from consentflow.review.crops import crop_key, face_crop
from consentflow.review.service import reject_photo
from tests.services.test_publish_support import add_face, add_photo, build_world


def _enrol(db_session, app, w, person, n=2):
    cipher = cipher_from_config(app.config)
    rng = np.random.default_rng(person.id)
    for i in range(n):
        db_session.add(ReferenceFace(school_id=w.school.id, person_id=person.id,
                                     portrait_sha256=f"{person.id:02d}{i:062d}",
                                     encoding_encrypted=cipher.encrypt(rng.normal(size=128))))
    db_session.flush()


def _cached(w, photo) -> list[bool]:
    return [w.storage.exists(derived_key(photo.sha256, side)) for side in SIDES]


def test_erasure_deletes_the_cached_copies_of_photos_that_may_show_them(app, db_session):
    w = build_world(db_session, app)
    unrelated = add_photo(db_session, w, "dogs.jpg")
    db_session.commit()
    for photo in (w.photo, unrelated):
        for side in (THUMB_SIDE, DISPLAY_SIDE):
            derived_image(w.storage, photo, side)
    legacy = f"thumb/{w.photo.sha256[:2]}/{w.photo.sha256}_480.jpg"  # a copy from before v2
    w.storage.put_at(legacy, b"old thumbnail")
    face_crop(w.storage, w.photo, w.obama_face, [w.biden_face])  # the review grid's crops
    crops = [crop_key(w.photo, f) for f in (w.obama_face, w.biden_face)]
    assert _cached(w, w.photo) == [True, True] and all(map(w.storage.exists, crops))

    report = erase_person(db_session, actor=w.actor, school_id=w.school.id, person_id=w.obama.id,
                          now=utcnow(), storage=w.storage)
    db_session.commit()

    assert _cached(w, w.photo) == [False, False]
    assert not w.storage.exists(legacy)
    assert not any(map(w.storage.exists, crops))
    assert report.derived_copies == 5
    assert _cached(w, unrelated) == [True, True]  # nobody erased is in it
    # The original is the school's and stays; the copies come back on demand.
    assert w.storage.exists(w.photo.storage_key)


def test_erase_reports_every_face_encoding_it_deleted(app, db_session, runner):
    w = build_world(db_session, app)
    _enrol(db_session, app, w, w.obama)
    cipher = cipher_from_config(app.config)
    faces = [w.obama_face] + [add_face(db_session, w.photo, (10 * i, 10, 10 * i + 40, 50),
                                       matched=w.obama) for i in range(1, 9)]
    for i, face in enumerate(faces + [w.biden_face]):
        face.encoding_encrypted = cipher.encrypt(np.full(128, float(i)))
    db_session.commit()

    result = runner.invoke(args=["privacy", "erase", str(w.obama.id), "--yes"])

    assert result.exit_code == 0, result.output
    assert "2 reference face(s), 9 face encoding(s)" in result.output
    db_session.expire_all()
    assert all(db_session.get(Face, f.id).encoding_encrypted is None for f in faces)
    assert db_session.get(Face, w.biden_face.id).encoding_encrypted is not None


def test_erasure_clears_the_decrypted_encodings_held_in_memory(app, db_session):
    w = build_world(db_session, app)
    w.school.biometric_mode = "all"
    _enrol(db_session, app, w, w.obama)
    _enrol(db_session, app, w, w.biden)
    db_session.commit()
    cipher = cipher_from_config(app.config)
    obama_tokens = {bytes(t) for t in db_session.scalars(select(
        ReferenceFace.encoding_encrypted).where(ReferenceFace.person_id == w.obama.id))}
    assert len(enrol.reference_index(db_session, w.school, cipher, date.today())) == 4
    held_elsewhere = dict(enrol._cache[w.school.id])  # as a worker process would still hold it
    assert obama_tokens <= set(held_elsewhere)

    erase_person(db_session, actor=w.actor, school_id=w.school.id, person_id=w.obama.id,
                 now=utcnow(), storage=w.storage)
    db_session.commit()

    # This process forgot them at once ...
    assert not obama_tokens & set(enrol._cache.get(w.school.id, {}))
    # ... and another process forgets them when it next builds the index, before any match.
    enrol._cache[w.school.id] = held_elsewhere
    index = enrol.reference_index(db_session, w.school, cipher, date.today())
    assert (len(index), index.person_count) == (2, 1)
    assert not obama_tokens & set(enrol._cache[w.school.id])


def test_retention_deletes_the_cached_copies_with_the_original(app, db_session, runner):
    w = build_world(db_session, app)
    long_ago = utcnow() - timedelta(days=60)
    rejected = add_photo(db_session, w, "dogs.jpg")
    reject_photo(db_session, actor=w.actor, school_id=w.school.id, photo_id=rejected.id,
                 reason="blurry", expected_version=None, now=long_ago)
    db_session.commit()
    for photo in (rejected, w.photo):
        for side in SIDES:
            derived_image(w.storage, photo, side)

    dry = runner.invoke(args=["retention", "--dry-run"])
    assert "Would delete 2 cached thumbnail(s)/review copies" in dry.output, dry.output
    assert _cached(w, rejected) == [True, True]

    applied = runner.invoke(args=["retention", "--apply"])
    assert applied.exit_code == 0, applied.output
    assert "Deleted 2 cached thumbnail(s)/review copies" in applied.output
    assert _cached(w, rejected) == [False, False]
    assert _cached(w, w.photo) == [True, True]  # its original is kept, so are its copies
