"""Match again from the UI: new portraits reach processed photos, reviewer decisions stay."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from consentflow.jobs import get_queue
from consentflow.models import AuditEvent, FaceReview, Photo
from tests import factories
from tests.conftest import Auth
from tests.jobs.photo_helpers import enrol, face_bytes, faces_of, run_jobs, upload

pytestmark = [pytest.mark.slow]


def _world(app, db_session):
    school = factories.school(db_session, biometric_mode="all")
    obama = factories.person(db_session, school=school, first="Barack", last="Obama")
    biden = factories.person(db_session, school=school, first="Joe", last="Biden")
    album = factories.album(db_session, school=school)
    [result] = upload(app, db_session, album, [("two_people.jpg", face_bytes("two_people.jpg"))])
    run_jobs(app)
    return school, obama, biden, album, result.photo_id


def test_match_again_applies_a_new_portrait_and_keeps_every_decision(app, client, auth,
                                                                    db_session):
    school, obama, biden, album, photo_id = _world(app, db_session)
    left, right = faces_of(db_session, photo_id)
    assert left.match_status == right.match_status == "unknown"  # nobody enrolled yet
    pr = auth.as_role(db_session, "pr", school=school)
    csrf = auth.csrf(f"/review/photo/{photo_id}")
    version = db_session.get(Photo, photo_id).version
    client.post(f"/review/face/{right.id}/assign/{biden.id}",
                data={"csrf_token": csrf, "version": version})
    enrol(app, db_session, school, obama, "obama.jpg")
    db_session.commit()

    page = client.get(f"/photos/albums/{album.id}").get_data(as_text=True)
    assert f"/photos/albums/{album.id}/match-again" in page
    reply = client.post(f"/photos/albums/{album.id}/match-again", data={"csrf_token": csrf},
                        follow_redirects=True)
    assert "Matching again has started" in reply.get_data(as_text=True)
    assert get_queue(app).pending_count() == 1  # a worker job, not work in the request
    assert db_session.get(Photo, photo_id).state == "needs_review"
    run_jobs(app)  # the match_again job queues the photo; its process_photo job runs next

    new_left, new_right = faces_of(db_session, photo_id)
    assert new_left.matched_person_id == obama.id  # the new portrait is applied
    active = db_session.scalars(select(FaceReview).where(
        FaceReview.photo_id == photo_id, FaceReview.revoked_at.is_(None))).all()
    assert [(r.face_id, r.kind, r.person_id, r.reviewer_id) for r in active] == [
        (new_right.id, "assign", biden.id, pr.id)]
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "photos.match_again"))
    assert event.details == {"photos": 1} and event.object_id == str(album.id)


def test_school_wide_match_again_by_admin_with_progress(app, client, auth, db_session):
    school, obama, _biden, _album, photo_id = _world(app, db_session)
    auth.as_role(db_session, "admin", school=school)
    enrol(app, db_session, school, obama, "obama.jpg")
    db_session.commit()
    page = client.get("/photos/reference/").get_data(as_text=True)
    assert 'id="match-again"' in page and "/photos/reference/status.json" in page
    csrf = auth.csrf("/photos/reference/")
    client.post("/photos/reference/match-again", data={"csrf_token": csrf})
    get_queue(app).huey.execute(get_queue(app).huey.dequeue())  # only the match_again job
    status = client.get("/photos/reference/status.json").get_json()
    assert (status["total"], status["queued"], status["done"]) == (1, 1, 0)
    run_jobs(app)
    status = client.get("/photos/reference/status.json").get_json()
    assert (status["done"], status["percent"]) == (1, 100)
    assert faces_of(db_session, photo_id)[0].matched_person_id == obama.id


def test_match_again_is_for_admin_and_pr_of_the_school(app, auth, db_session):
    school, _obama, _biden, album, _photo_id = _world(app, db_session)
    teacher, stranger = app.test_client(), app.test_client()
    Auth(teacher).as_role(db_session, "teacher", school=school)
    Auth(stranger).as_role(db_session, "pr")
    for client in (teacher, stranger):
        csrf = Auth(client).csrf("/")
        answers = [client.post(f"/photos/albums/{album.id}/match-again",
                               data={"csrf_token": csrf}).status_code,
                   client.post("/photos/reference/match-again",
                               data={"csrf_token": csrf}).status_code]
        assert answers == ([403, 403] if client is teacher else [404, 302])
    run_jobs(app)  # the stranger's job runs for the stranger's own school only
    assert db_session.get(Photo, _photo_id).state == "needs_review"
    assert db_session.scalar(select(AuditEvent).where(
        AuditEvent.action == "photo.reprocess", AuditEvent.school_id == school.id)) is None
    assert db_session.scalar(select(AuditEvent).where(
        AuditEvent.action == "photos.match_again", AuditEvent.school_id == school.id)) is None
