"""A withdrawal recorded by the consent registry opens takedowns for exactly the affected publications."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from consentflow.audit.service import Actor, verify_chain
from consentflow.consent.service import record_consent
from consentflow.errors import InvalidInput, InvalidState, NotFound
from consentflow.faces.matching import MatchThresholds
from consentflow.models import AuditEvent, PhotoPurpose, Publication, TakedownTask
from consentflow.publish.service import approve_purpose, publish_photo
from consentflow.publish.takedown import complete_takedown, open_takedowns
from consentflow.review.service import record_review
from tests.services.test_publish_support import (
    APPROVED_AT,
    PUBLISH_AT,
    add_face,
    add_photo,
    build_world,
    confirm_both,
)

pytestmark = [pytest.mark.slow]
BOTH = {"social_media.photo": True, "website.photo": True}
WITHDRAW_AT = PUBLISH_AT + timedelta(days=2)


def _consent(db_session, app, w, person, decisions, at):
    return record_consent(
        db_session, actor=Actor.system("test"), person_id=person.id, school_year_id=w.year.id,
        form_id=w.form.id, decisions=decisions, signer_kind="self", signer_guardian_id=None,
        signer_name=None, method="in_person", signed_at=at, evidence=None,
        evidence_filename=None, storage_dir=app.config["STORAGE_DIR"], now=at,
    )


def _publish_everywhere(db_session, w, photo, channels=("social_media", "website")):
    pubs = []
    for channel in channels:
        approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=photo.id,
                        channel=channel, expected_version=None, now=APPROVED_AT)
        pubs.append(publish_photo(db_session, actor=w.actor, school_id=w.school.id,
                                  photo_id=photo.id, channel=channel, storage=w.storage,
                                  now=PUBLISH_AT, tolerance=MatchThresholds.defaults().loose))
    return pubs


def _approve(db_session, w, photo, channel="social_media"):
    return approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=photo.id,
                           channel=channel, expected_version=None, now=APPROVED_AT)


def test_takedown_for_every_affected_publication_and_no_other(app, db_session):
    w = build_world(db_session, app)
    other = build_world(db_session, app)  # another school, same kind of publications
    for world in (w, other):
        for person in (world.obama, world.biden):
            _consent(db_session, app, world, person, BOTH, APPROVED_AT - timedelta(days=20))
        confirm_both(db_session, world)
    social, website = _publish_everywhere(db_session, w, w.photo)
    other_social, _ = _publish_everywhere(db_session, other, other.photo)
    # Approved, not yet published: one photo with Obama, one without.
    with_obama = add_photo(db_session, w, "obama.jpg")
    face = add_face(db_session, with_obama, (180, 120, 420, 420), matched=w.obama)
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=face.id,
                  kind="confirm", expected_version=None, now=APPROVED_AT)
    _approve(db_session, w, with_obama)
    without_obama = add_photo(db_session, w, "biden.jpg")
    face_b = add_face(db_session, without_obama, (200, 150, 450, 450), matched=w.biden)
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=face_b.id,
                  kind="confirm", expected_version=None, now=APPROVED_AT)
    _approve(db_session, w, without_obama)
    db_session.commit()
    assert with_obama.state == "approved" and without_obama.state == "approved"

    # Obama withdraws social media only, through the consent registry.
    record = _consent(db_session, app, w, w.obama,
                      {"social_media.photo": False, "website.photo": True}, WITHDRAW_AT)
    db_session.commit()

    tasks = db_session.scalars(select(TakedownTask)).all()
    assert [(t.publication_id, t.person_id) for t in tasks] == [(social.id, w.obama.id)]
    task = tasks[0]
    assert task.consent_record_id == record.id
    assert task.school_id == w.school.id
    assert website.taken_down_at is None and other_social.taken_down_at is None
    # The approved photo showing Obama is back in review; the other stays approved.
    assert with_obama.state == "needs_review"
    pp = db_session.scalar(select(PhotoPurpose).where(PhotoPurpose.photo_id == with_obama.id))
    assert pp.status == "pending" and "withdrawn" in pp.reason
    assert without_obama.state == "approved"
    assert open_takedowns(db_session, other.school.id) == []

    # Withdrawing the same purpose again does not duplicate the open task.
    _consent(db_session, app, w, w.obama, {"social_media.photo": True, "website.photo": True},
             WITHDRAW_AT + timedelta(hours=1))
    _consent(db_session, app, w, w.obama, {"social_media.photo": False, "website.photo": True},
             WITHDRAW_AT + timedelta(hours=2))
    db_session.commit()
    assert len(open_takedowns(db_session, w.school.id)) == 1
    assert verify_chain(db_session).ok


def test_takedown_is_done_when_pr_records_the_removal(app, db_session):
    w = build_world(db_session, app)
    for person in (w.obama, w.biden):
        _consent(db_session, app, w, person, BOTH, APPROVED_AT - timedelta(days=20))
    confirm_both(db_session, w)
    (social,) = _publish_everywhere(db_session, w, w.photo, channels=("social_media",))
    _consent(db_session, app, w, w.biden, {"social_media.photo": False}, WITHDRAW_AT)
    db_session.commit()
    (task,) = open_takedowns(db_session, w.school.id)
    assert task.person_id == w.biden.id

    with pytest.raises(InvalidInput):
        complete_takedown(db_session, actor=w.actor, school_id=w.school.id, task_id=task.id,
                          note=" ", now=WITHDRAW_AT)
    with pytest.raises(NotFound):
        complete_takedown(db_session, actor=w.actor, school_id=w.school.id + 999,
                          task_id=task.id, note="removed", now=WITHDRAW_AT)
    complete_takedown(db_session, actor=w.actor, school_id=w.school.id, task_id=task.id,
                      note="Deleted the Instagram post", now=WITHDRAW_AT + timedelta(hours=1))
    db_session.commit()
    assert task.done_at is not None and task.done_by_id == w.user.id
    assert db_session.get(Publication, social.id).taken_down_at is not None
    assert open_takedowns(db_session, w.school.id) == []
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "takedown.done"))
    with pytest.raises(InvalidState):
        complete_takedown(db_session, actor=w.actor, school_id=w.school.id, task_id=task.id,
                          note="again", now=WITHDRAW_AT + timedelta(hours=2))
