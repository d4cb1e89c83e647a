"""Erasure, subject access and retention, pinned field by field on rows built directly.

test_privacy_erasure.py walks the paths through the command line; here each
rule of consentflow.privacy gets a case per condition and every exported
field an exact expected value, so that breaking one of them fails a test.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from consentflow.audit.service import record_event
from consentflow.errors import NotFound
from consentflow.models import Face, FaceReview, Publication, ReferenceFace, TakedownTask
from consentflow.models.video import VideoTrack
from consentflow.photos.derived import SIDES, derived_key
from consentflow.privacy.retention import RetentionReport, apply_retention
from consentflow.privacy.service import (
    erase_person,
    get_person,
    remaining_encodings,
    subject_access_data,
    subject_access_export,
)
from tests import factories
from tests.services.test_publish_support import (
    APPROVED_AT,
    PUBLISH_AT,
    World,
    add_bare_photo,
    add_face,
    audit_events,
    build_world,
    confirm_both,
    consent,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, (date, datetime)) else value




def _reference(session, w: World, person, n: int = 0) -> ReferenceFace:
    ref = ReferenceFace(school_id=person.school_id, person_id=person.id,
                        portrait_sha256=f"{person.id:02d}{n:062d}", encoding_encrypted=b"sealed",
                        created_at=APPROVED_AT)
    session.add(ref)
    session.flush()
    return ref


def _review(session, w: World, face: Face, kind: str, person=None) -> None:
    session.add(FaceReview(photo_id=face.photo_id, face_id=face.id, kind=kind,
                           person_id=person.id if person else None, reviewer_id=w.user.id,
                           created_at=APPROVED_AT, left=face.left, top=face.top, right=face.right,
                           bottom=face.bottom))
    session.flush()


# --- subject access ---------------------------------------------------------------


def test_subject_access_data_is_exactly_what_the_school_holds_about_the_person(app, db_session):
    w = build_world(db_session, app)
    other = build_world(db_session, app)
    me = w.obama
    me.enrolled_on, me.left_on = date(2020, 9, 1), date(2027, 7, 31)
    guardian = factories.guardian(db_session, school=w.school, children=[me], name="Michelle",
                                  email="michelle@example.org")
    # Stored with the higher id first: the export lists records by id.
    record = consent(db_session, w, me, {"website.photo"}, at=APPROVED_AT, record_id=9002)
    earlier = consent(db_session, w, me, set(), at=APPROVED_AT - timedelta(days=9), record_id=9001)
    confirm_both(db_session, w)  # my face in w.photo is confirmed as me
    # A face only assigned to me by a reviewer (no automatic match).
    assigned_photo = add_bare_photo(db_session, w)
    assigned = add_face(db_session, assigned_photo, (10, 20, 110, 140))
    _review(db_session, w, assigned, "assign", me)
    # A video face matched to me, seen from frame 50 to 100 at 25 fps.
    video = add_bare_photo(db_session, w, "video/mp4")
    on_video = add_face(db_session, video, (200, 100, 260, 170), matched=me, distance=0.41)
    db_session.add(VideoTrack(photo_id=video.id, face_id=on_video.id, number=1, fps=30.0,
                              first_frame=1, last_frame=100, frame_count=100, detections=40))
    # Faces that are not listed: me only among the candidates; someone else's.
    candidate_photo = add_bare_photo(db_session, w)
    candidate_only = add_face(db_session, candidate_photo, (5, 5, 50, 50), matched=w.biden)
    candidate_only.candidates = [{"person_id": w.biden.id, "distance": 0.35},
                                 {"person_id": me.id, "distance": 0.52}]
    ref = _reference(db_session, w, me)
    _reference(db_session, w, w.biden)
    # Not mine, stored first with the lowest id: the publications after it are still looked at.
    not_me = Publication(id=9100, school_id=w.school.id, photo_id=assigned_photo.id, purpose="website",
                         derivative_sha256="f" * 64, published_at=PUBLISH_AT,
                         snapshot=[{"person_id": w.biden.id, "decision": "show"}])
    db_session.add(not_me)
    db_session.flush()
    shown = Publication(
        id=9102, school_id=w.school.id, photo_id=w.photo.id, purpose="website", channel_note="Homepage",
        derivative_sha256="d" * 64, maker_credit="J. Fotograaf", published_at=PUBLISH_AT,
        taken_down_at=PUBLISH_AT + timedelta(days=3),
        snapshot=[
            {"face_id": w.obama_face.id, "person_id": me.id, "name": "Barack Obama",
             "decision": "show", "consent_record_id": record.id, "note": "front row"},
            {"face_id": w.biden_face.id, "person_id": w.biden.id, "name": "Joe Biden",
             "decision": "blur_no_consent", "consent_record_id": None, "note": "left"},
        ])
    on_film = Publication(
        id=9101, school_id=w.school.id, photo_id=video.id, purpose="social_media", derivative_sha256="e" * 64,
        published_at=PUBLISH_AT, video_snapshot={"sound": "dropped"},
        snapshot=[{"face_id": on_video.id, "person_id": me.id, "decision": "blur_no_consent"}])
    elsewhere = Publication(school_id=other.school.id, photo_id=other.photo.id, purpose="website",
                            derivative_sha256="0" * 64, published_at=PUBLISH_AT,
                            snapshot=[{"person_id": me.id, "decision": "show"}])
    db_session.add_all([shown, on_film, elsewhere])
    db_session.flush()
    db_session.add_all([
        TakedownTask(school_id=w.school.id, publication_id=shown.id, person_id=me.id,
                     created_at=PUBLISH_AT + timedelta(days=1), done_at=PUBLISH_AT + timedelta(days=3)),
        TakedownTask(school_id=w.school.id, publication_id=shown.id, person_id=w.biden.id,
                     created_at=PUBLISH_AT + timedelta(days=2)),
    ])
    db_session.flush()

    data = subject_access_data(db_session, w.school.id, me.id)

    assert data["person"] == {
        "id": me.id, "kind": "staff", "external_id": me.external_id, "first_name": "Barack",
        "last_name": "Obama", "date_of_birth": "1961-08-04", "group": "2A",
        "enrolled_on": "2020-09-01", "left_on": "2027-07-31", "erased_at": None,
        "guardians": [{"name": "Michelle", "email": "michelle@example.org"}],
    }
    assert guardian.email == "michelle@example.org"
    assert [r["id"] for r in data["consent_records"]] == [earlier.id, record.id]
    assert data["consent_records"][1:] == [{
        "id": record.id, "school_year": "2026-2027", "form": "Media v1",
        "decisions": record.decisions, "signer_kind": "self", "signer_name": "Barack Obama",
        "method": "paper", "signed_at": _iso(record.signed_at), "recorded_at": _iso(record.recorded_at),
        "evidence_sha256": "0" * 64, "evidence_note": None,
        "supersedes_id": None,
    }]
    assert data["reference_portraits"] == [{"id": ref.id, "portrait_sha256": ref.portrait_sha256,
                                            "enrolled_at": _iso(ref.created_at)}]
    photo_base = {"album": "Sports day", "event_date": "2026-10-01", "state": "needs_review"}
    assert sorted(data["photos_matched"], key=lambda p: p["photo_id"]) == [
        {**photo_base, "photo_id": w.photo.id, "media": "photo", "seconds": None,
         "face_box": [230, 21, 390, 231], "automatic_match": True, "distance": 0.35,
         "reviewer_decision": "confirm"},
        {**photo_base, "photo_id": assigned_photo.id, "media": "photo", "seconds": None,
         "face_box": [10, 20, 110, 140], "automatic_match": False, "distance": None,
         "reviewer_decision": "assign"},
        {**photo_base, "photo_id": video.id, "media": "video", "seconds": [0.03, 3.33],
         "face_box": [200, 100, 260, 170], "automatic_match": True, "distance": 0.41,
         "reviewer_decision": None},
    ]
    assert [p["id"] for p in data["publications"]] == [on_film.id, shown.id]
    assert data["publications"][::-1] == [
        {"id": shown.id, "photo_id": w.photo.id, "purpose": "website", "media": "photo",
         "channel_note": "Homepage", "published_at": _iso(shown.published_at),
         "derivative_sha256": "d" * 64, "maker_credit": "J. Fotograaf",
         "taken_down_at": _iso(shown.taken_down_at),
         "snapshot": [
             shown.snapshot[0],
             {"face_id": w.biden_face.id, "person_id": None, "name": "another person",
              "decision": "blur_no_consent", "consent_record_id": None, "note": None},
         ],
         "takedowns": [{"created_at": _iso(PUBLISH_AT + timedelta(days=1)),
                        "done_at": _iso(PUBLISH_AT + timedelta(days=3))}]},
        {"id": on_film.id, "photo_id": video.id, "purpose": "social_media", "media": "video",
         "channel_note": None, "published_at": _iso(on_film.published_at),
         "derivative_sha256": "e" * 64, "maker_credit": "", "taken_down_at": None,
         "snapshot": on_film.snapshot, "takedowns": []},
    ]
    assert set(data) == {"person", "consent_records", "reference_portraits", "photos_matched",
                         "publications"}


def test_a_face_matched_to_someone_else_but_confirmed_as_me_counts_and_a_rejection_does_not(
        app, db_session):
    w = build_world(db_session, app)
    # A face reviewed with my id but not as me comes first: the faces after it are still listed.
    rejected = add_face(db_session, add_bare_photo(db_session, w), (0, 0, 40, 40))
    _review(db_session, w, rejected, "external_adult", w.obama)
    photo = add_bare_photo(db_session, w)
    mine = add_face(db_session, photo, (0, 0, 40, 40), matched=w.biden)
    # An earlier decision, since revoked, does not count.
    _review(db_session, w, mine, "not_face")
    db_session.scalars(select(FaceReview).where(FaceReview.face_id == mine.id)).one().revoked_at = APPROVED_AT
    _review(db_session, w, mine, "confirm", w.obama)

    w.obama.erased_at = NOW
    data = subject_access_data(db_session, w.school.id, w.obama.id)
    assert data["person"]["erased_at"] == NOW.isoformat()
    listed = data["photos_matched"]

    assert [(p["photo_id"], p["automatic_match"], p["distance"], p["reviewer_decision"])
            for p in listed] == [(w.photo.id, True, 0.35, None), (photo.id, False, None, "confirm")]


def test_a_person_of_another_school_is_not_found(app, db_session):
    w = build_world(db_session, app)
    other = build_world(db_session, app)
    assert get_person(db_session, w.school.id, w.obama.id) is w.obama
    with pytest.raises(NotFound, match=r"^Person not found\.$"):
        get_person(db_session, other.school.id, w.obama.id)
    with pytest.raises(NotFound):
        subject_access_data(db_session, other.school.id, w.obama.id)
    with pytest.raises(NotFound):
        erase_person(db_session, actor=w.actor, school_id=other.school.id, person_id=w.obama.id,
                     now=NOW, storage=w.storage)


def test_the_export_is_a_zip_of_the_data_and_a_page_and_is_audited(app, db_session):
    w = build_world(db_session, app)
    w.obama.first_name = "Zoë"
    consent(db_session, w, w.obama, {"website.photo"}, at=APPROVED_AT)
    seen: list[dict] = []

    def page(data: dict) -> str:
        seen.append(data)
        return "<html>Obama</html>"

    blob = subject_access_export(db_session, actor=w.actor, school_id=w.school.id,
                                 person_id=w.obama.id, now=NOW, render_html=page)

    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        assert sorted(archive.namelist()) == ["data.json", "index.html"]
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())
        data = json.loads(archive.read("data.json"))
        assert archive.read("index.html").decode() == "<html>Obama</html>"
    assert data["exported_at"] == NOW.isoformat() and seen[0]["exported_at"] == NOW.isoformat()
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        raw = archive.read("data.json").decode("utf-8")
    # Readable as it is: indented, names in their own letters.
    assert '\n  "person": {\n    "id": ' in raw and '"first_name": "Zoë"' in raw
    assert data["person"]["last_name"] == "Obama"
    (event,) = audit_events(db_session, "person.subject_access_export")
    assert (event.object_type, event.object_id, event.school_id) == ("person", str(w.obama.id),
                                                                      w.school.id)
    assert event.subject_ids == [w.obama.id] and event.actor_id == w.user.id
    assert event.details == {"consent_records": 1, "photos": 1, "publications": 0}
    assert event.at.replace(tzinfo=None) == NOW.replace(tzinfo=None)


# --- erasure ----------------------------------------------------------------------


def test_erasure_reports_and_clears_exactly_what_may_be_theirs(app, db_session):
    w = build_world(db_session, app)
    me = w.obama
    _reference(db_session, w, me, 0)
    _reference(db_session, w, me, 1)
    _reference(db_session, w, w.biden)
    matched = w.obama_face
    matched.encoding_encrypted = b"mine"
    w.biden_face.encoding_encrypted = b"biden's"
    # A second face matched to me: both matches are unlinked.
    also_matched = add_face(db_session, add_bare_photo(db_session, w), (0, 0, 40, 40), matched=me)
    # Confirmed as me by a reviewer, automatically matched to Biden: cleared, the match stays.
    reviewed = add_face(db_session, add_bare_photo(db_session, w), (0, 0, 40, 40), matched=w.biden)
    reviewed.encoding_encrypted = b"maybe mine"
    _review(db_session, w, reviewed, "confirm", me)
    # Me only among the candidates, with no encoding left: the candidate goes.
    candidate = add_face(db_session, add_bare_photo(db_session, w), (0, 0, 40, 40), matched=w.biden)
    candidate.candidates = [{"person_id": w.biden.id, "distance": 0.3},
                            {"person_id": me.id, "distance": 0.5}]
    candidate.encoding_encrypted = b"may be mine"
    record_event(db_session, actor=w.actor, action="person.note", object_type="person",
                 object_id=me.id, school_id=w.school.id, subject_ids=[me.id],
                 personal={"name": "Barack Obama"})
    record_event(db_session, actor=w.actor, action="person.note", object_type="person",
                 object_id=w.biden.id, school_id=w.school.id, subject_ids=[w.biden.id],
                 personal={"name": "Joe Biden"})
    db_session.flush()
    assert remaining_encodings(db_session, w.school.id, me.id) == 2 + 3

    report = erase_person(db_session, actor=w.actor, school_id=w.school.id, person_id=me.id,
                          now=NOW, storage=w.storage)

    assert (report.reference_faces, report.face_encodings, report.unlinked_matches) == (2, 3, 2)
    assert report.derived_copies == 0
    assert remaining_encodings(db_session, w.school.id, me.id) == 0
    assert matched.encoding_encrypted is None and matched.matched_person_id is None
    assert matched.match_status == "unknown" and matched.distance is None
    assert reviewed.encoding_encrypted is None and reviewed.matched_person_id == w.biden.id
    assert reviewed.match_status == "matched" and reviewed.distance == 0.35
    assert candidate.candidates == [{"person_id": w.biden.id, "distance": 0.3}]
    assert candidate.encoding_encrypted is None
    assert candidate.matched_person_id == w.biden.id
    assert w.biden_face.encoding_encrypted == b"biden's"
    assert len(db_session.scalars(select(ReferenceFace).where(
        ReferenceFace.person_id == w.biden.id)).all()) == 1
    assert me.erased_at == NOW
    assert also_matched.matched_person_id is None
    (purge,) = audit_events(db_session, "reference_face.purge")
    assert purge.details["reason"] == "erasure" and purge.details["reference_faces"] == 2
    assert purge.at.replace(tzinfo=None) == NOW.replace(tzinfo=None)
    (event,) = audit_events(db_session, "person.erased")
    assert event.at.replace(tzinfo=None) == NOW.replace(tzinfo=None)
    assert (event.object_type, event.object_id, event.school_id) == ("person", str(me.id), w.school.id)
    assert event.subject_ids == [me.id]
    assert event.details == {"reference_faces": 2, "face_encodings": 3, "unlinked_matches": 2,
                             "audit_events_pseudonymised": 1, "derived_copies": 0}
    assert report.audit_events == 1
    notes = {e.object_id: e.personal["name"] for e in audit_events(db_session, "person.note")}
    assert notes[str(me.id)].get("v") is None and notes[str(w.biden.id)]["v"] == "Joe Biden"


# --- retention --------------------------------------------------------------------


def _finished(session, w: World, state: str, at: datetime, *, encodings: int = 1):
    photo = add_bare_photo(session, w, state=state)
    photo.uploaded_at = photo.processed_at = at
    faces = [add_face(session, photo, (i * 50, 0, i * 50 + 40, 40)) for i in range(encodings)]
    for face in faces:
        face.encoding_encrypted = b"sealed"
    if state == "published":
        session.add(Publication(school_id=w.school.id, photo_id=photo.id, purpose="website",
                                derivative_sha256="a" * 64, snapshot=[], published_at=at))
    session.flush()
    return photo, faces


def _retain(session, w: World, *, apply: bool, now: datetime = NOW) -> RetentionReport:
    return apply_retention(session, actor=w.actor, now=now, storage=w.storage,
                           encodings_grace_days=7, rejected_originals_days=30, apply=apply)


def test_encodings_go_from_the_last_day_of_the_grace_period_on(app, db_session):
    w = build_world(db_session, app)
    grace = NOW - timedelta(days=7)
    on_the_day, due = _finished(db_session, w, "published", grace, encodings=2)
    add_face(db_session, on_the_day, (300, 0, 340, 40))  # never encoded: nothing to delete
    _, kept = _finished(db_session, w, "published", grace + timedelta(seconds=1))
    rejected, rejected_faces = _finished(db_session, w, "rejected", grace - timedelta(days=1))
    _, in_review = _finished(db_session, w, "needs_review", NOW - timedelta(days=300))
    # Published twice: the first publication ended review.
    twice, twice_faces = _finished(db_session, w, "published", grace - timedelta(days=1))
    db_session.add(Publication(school_id=w.school.id, photo_id=twice.id, purpose="social_media",
                               derivative_sha256="b" * 64, snapshot=[], published_at=NOW))
    db_session.flush()

    report = _retain(db_session, w, apply=False)
    expected = sorted(f.id for f in [*due, *rejected_faces, *twice_faces])
    assert sorted(report.encodings) == expected
    assert all(f.encoding_encrypted == b"sealed" for f in [*due, *kept, *in_review])
    assert audit_events(db_session, "retention.applied") == []

    report = _retain(db_session, w, apply=True)
    assert sorted(report.encodings) == expected
    assert all(f.encoding_encrypted is None for f in [*due, *rejected_faces, *twice_faces])
    assert all(f.encoding_encrypted == b"sealed" for f in [*kept, *in_review])
    (event,) = audit_events(db_session, "retention.applied")
    assert (event.object_type, event.object_id, event.school_id) == ("school", str(w.school.id),
                                                                      w.school.id)
    assert event.details == {"encodings": 4}
    assert event.at.replace(tzinfo=None) == NOW.replace(tzinfo=None)
    assert on_the_day.state == "published"


def test_a_rejection_is_dated_by_its_audit_event_and_originals_go_after_their_period(app, db_session):
    w = build_world(db_session, app)
    cutoff = NOW - timedelta(days=30)
    old, _ = _finished(db_session, w, "rejected", cutoff, encodings=0)
    # Uploaded long ago, but rejected only yesterday (the audited rejection counts).
    recent, _ = _finished(db_session, w, "rejected", NOW - timedelta(days=400), encodings=0)
    for at in (NOW - timedelta(days=300), NOW - timedelta(days=1)):
        record_event(db_session, actor=w.actor, action="photo.rejected", object_type="photo",
                     object_id=recent.id, school_id=w.school.id, now=at)
    # Rejected long ago; a later event of another kind on it does not move the date.
    noted, _ = _finished(db_session, w, "rejected", NOW - timedelta(days=400), encodings=0)
    record_event(db_session, actor=w.actor, action="photo.rejected", object_type="photo",
                 object_id=noted.id, school_id=w.school.id, now=NOW - timedelta(days=200))
    record_event(db_session, actor=w.actor, action="photo.retry", object_type="photo",
                 object_id=noted.id, school_id=w.school.id, now=NOW - timedelta(days=2))
    # No rejection on record: processing ended yesterday, the upload was long ago.
    processed, _ = _finished(db_session, w, "rejected", NOW - timedelta(days=400), encodings=0)
    processed.processed_at = NOW - timedelta(days=1)
    just_in, _ = _finished(db_session, w, "rejected", cutoff + timedelta(seconds=1), encodings=0)
    already_gone, _ = _finished(db_session, w, "rejected", NOW - timedelta(days=400), encodings=0)
    already_gone.storage_key = None
    old_key = old.storage_key

    report = _retain(db_session, w, apply=True)

    assert sorted(report.originals) == sorted([old.id, noted.id])
    assert old.storage_key is None and old_key and noted.storage_key is None
    assert recent.storage_key is not None and just_in.storage_key is not None
    assert processed.storage_key is not None
    (event,) = audit_events(db_session, "retention.applied")
    assert event.details == {"originals": 2}


def test_reference_faces_go_for_who_left_was_erased_or_said_no_to_matching(app, db_session):
    w = build_world(db_session, app)
    today = NOW.date()
    left = factories.person(db_session, school=w.school)
    left.left_on = today
    leaving = factories.person(db_session, school=w.school)
    leaving.left_on = today + timedelta(days=1)
    erased = factories.person(db_session, school=w.school)
    erased.erased_at = NOW - timedelta(days=1)
    left_and_erased = factories.person(db_session, school=w.school)
    left_and_erased.left_on, left_and_erased.erased_at = today, NOW
    said_no = factories.person(db_session, school=w.school)
    consent(db_session, w, said_no, {"website.photo"}, at=APPROVED_AT)
    said_yes = factories.person(db_session, school=w.school)
    consent(db_session, w, said_yes, {"face_matching"}, at=APPROVED_AT)
    no_record = factories.person(db_session, school=w.school)
    everyone = [left, leaving, erased, left_and_erased, said_no, said_yes, no_record]
    for person in everyone:
        _reference(db_session, w, person)

    dry = _retain(db_session, w, apply=False)
    expected = {left.id: "left school", erased.id: "erased", left_and_erased.id: "left school",
                said_no.id: "withdrew face_matching"}
    assert dry.reference_people == expected
    assert len(db_session.scalars(select(ReferenceFace)).all()) == len(everyone)

    applied = _retain(db_session, w, apply=True)
    assert applied.reference_people == expected
    kept = {r.person_id for r in db_session.scalars(select(ReferenceFace))}
    assert kept == {leaving.id, said_yes.id, no_record.id}
    purges = audit_events(db_session, "reference_face.purge")
    assert {e.object_id: e.details["reason"] for e in purges} == {
        str(pid): f"retention: {why}" for pid, why in expected.items()}
    assert {e.at.replace(tzinfo=None) for e in purges} == {NOW.replace(tzinfo=None)}


def test_cached_copies_go_with_their_originals_and_only_with_them(app, db_session):
    w = build_world(db_session, app)
    live = add_bare_photo(db_session, w)
    deleted_before = add_bare_photo(db_session, w)
    deleted_before.storage_key = None
    deleted_now, _ = _finished(db_session, w, "rejected", NOW - timedelta(days=400), encodings=0)
    w.storage.put_at(deleted_now.storage_key, b"original")
    for photo in (live, deleted_before, deleted_now):
        for side in SIDES:
            w.storage.put_at(derived_key(photo.sha256, side), b"copy")

    # The same file as a live photo of another album: its copies still serve that photo.
    shared_gone = add_bare_photo(db_session, w)
    shared_gone.storage_key = None
    w.album = factories.album(db_session, school=w.school, title="Other event")
    still_shown = add_bare_photo(db_session, w)
    still_shown.sha256 = shared_gone.sha256
    db_session.flush()
    for side in SIDES:
        w.storage.put_at(derived_key(still_shown.sha256, side), b"copy")

    assert _retain(db_session, w, apply=False).derived == 2 * len(SIDES)
    assert w.storage.exists(derived_key(deleted_now.sha256, SIDES[0]))

    assert _retain(db_session, w, apply=True).derived == 2 * len(SIDES)
    assert all(w.storage.exists(derived_key(live.sha256, side)) for side in SIDES)
    assert all(w.storage.exists(derived_key(still_shown.sha256, side)) for side in SIDES)
    assert not any(w.storage.exists(derived_key(p.sha256, side))
                   for p in (deleted_before, deleted_now) for side in SIDES)
    assert not w.storage.exists(f"orig/{deleted_now.sha256}")


def test_the_report_says_what_was_or_would_be_deleted():
    report = RetentionReport(applied=False, encodings=[1, 2, 3], originals=[9],
                             reference_people={7: "left school", 3: "erased"}, derived=4)
    assert report.lines() == [
        "Would delete 3 face encoding(s) of published or rejected photos.",
        "Would delete 1 original(s) of rejected photos.",
        "Would delete 4 cached thumbnail(s)/review copies of deleted originals.",
        "Would delete the reference faces of 2 person(s): #3 (erased), #7 (left school)",
    ]
    assert RetentionReport(applied=True).lines() == [
        "Deleted 0 face encoding(s) of published or rejected photos.",
        "Deleted 0 original(s) of rejected photos.",
        "Deleted 0 cached thumbnail(s)/review copies of deleted originals.",
        "Deleted the reference faces of 0 person(s): ",
    ]
