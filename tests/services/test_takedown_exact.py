"""The takedown rules, pinned one by one on rows built directly (no rendering, no detection).

test_takedown_withdrawal.py walks the whole path (consent registry ->
publication -> withdrawal); here each function of consentflow.publish.takedown
gets a case per condition, so that breaking any one of them fails a test.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.errors import InvalidInput, InvalidState, NotFound
from consentflow.events import PurposesWithdrawn
from consentflow.models import OutboxMessage, Photo, PhotoPurpose, Publication, TakedownTask
from consentflow.publish.takedown import (
    complete_takedown,
    count_open_takedowns,
    create_takedowns,
    on_purposes_withdrawn,
    open_takedowns,
    recent_done_takedowns,
    send_back_unpublished,
)
from consentflow.review.service import record_review
from tests.services.test_publish_support import (
    APPROVED_AT,
    PUBLISH_AT,
    World,
    add_bare_photo,
    add_face,
    audit_events,
    build_world,
    consent,
    naive_utc,
)

WITHDRAW_AT = PUBLISH_AT + timedelta(days=2)


def _publication(session, w: World, photo: Photo, channel: str, shown: dict[int, str], *,
                 taken_down: bool = False, pub_id: int | None = None) -> Publication:
    publication = Publication(
        id=pub_id, school_id=photo.school_id, photo_id=photo.id, purpose=channel, derivative_sha256="0" * 64,
        snapshot=[{"person_id": person_id, "decision": decision}
                  for person_id, decision in shown.items()],
        published_at=PUBLISH_AT, taken_down_at=PUBLISH_AT + timedelta(hours=1) if taken_down else None)
    session.add(publication)
    session.flush()
    return publication


def _video(session, w: World) -> Photo:
    return add_bare_photo(session, w, "video/mp4")


def _withdrawal(session, w: World, person, purposes: set[str]) -> PurposesWithdrawn:
    record = consent(session, w, person, set(), at=WITHDRAW_AT)
    return PurposesWithdrawn(school_id=w.school.id, person_id=person.id,
                             purposes=frozenset(purposes), record_id=record.id, at=WITHDRAW_AT)






def _task(session, w: World, publication: Publication, person, *, done: bool = False,
          created_at=WITHDRAW_AT, task_id: int | None = None) -> TakedownTask:
    task = TakedownTask(id=task_id, school_id=publication.school_id, publication_id=publication.id,
                        person_id=person.id, created_at=created_at,
                        done_at=created_at + timedelta(hours=1) if done else None)
    session.add(task)
    session.flush()
    return task


# --- create_takedowns -------------------------------------------------------------


def test_a_task_only_for_live_publications_that_show_the_person_on_the_channel(app, db_session):
    w = build_world(db_session, app)
    other = build_world(db_session, app)
    me, someone = w.obama.id, w.biden.id
    hit = _publication(db_session, w, w.photo, "social_media", {me: "show", someone: "show"})
    _publication(db_session, w, w.photo, "website", {me: "show"})  # not withdrawn
    _publication(db_session, w, add_bare_photo(db_session, w), "social_media", {me: "blur"})
    _publication(db_session, w, add_bare_photo(db_session, w), "social_media", {someone: "show"})
    _publication(db_session, w, add_bare_photo(db_session, w), "social_media", {me: "show"},
                 taken_down=True)
    _publication(db_session, w, _video(db_session, w), "social_media", {me: "show"})
    # Another school's publication naming the same person id is not this school's.
    _publication(db_session, other, other.photo, "social_media", {me: "show"})
    event = _withdrawal(db_session, w, w.obama, {"social_media.photo", "face_matching"})

    tasks = create_takedowns(db_session, event)

    assert [(t.publication_id, t.person_id) for t in tasks] == [(hit.id, me)]
    (task,) = tasks
    assert task.id is not None and task.school_id == w.school.id
    assert task.consent_record_id == event.record_id
    assert task.created_at == WITHDRAW_AT and task.done_at is None
    assert task.reason == "Consent for social_media was withdrawn."
    assert db_session.scalars(select(TakedownTask)).all() == [task]
    (opened,) = audit_events(db_session, "takedown.opened")
    assert (opened.object_type, opened.object_id, opened.school_id) == ("takedown_task", str(task.id),
                                                                         w.school.id)
    assert opened.subject_ids == [me]
    assert opened.details == {"publication_id": hit.id, "purpose": "social_media",
                              "consent_record_id": event.record_id}
    assert naive_utc(opened.at) == naive_utc(WITHDRAW_AT)


def test_a_video_is_taken_down_for_its_video_consent_not_for_the_photo_consent(app, db_session):
    w = build_world(db_session, app)
    photo_pub = _publication(db_session, w, w.photo, "website", {w.obama.id: "show"})
    video_pub = _publication(db_session, w, _video(db_session, w), "website", {w.obama.id: "show"})

    tasks = create_takedowns(db_session, _withdrawal(db_session, w, w.obama, {"website.video"}))
    assert [t.publication_id for t in tasks] == [video_pub.id]

    tasks = create_takedowns(db_session, _withdrawal(db_session, w, w.obama, {"website.photo"}))
    assert [t.publication_id for t in tasks] == [photo_pub.id]


def test_no_task_when_no_channel_was_withdrawn(app, db_session):
    w = build_world(db_session, app)
    _publication(db_session, w, w.photo, "website", {w.obama.id: "show"})
    event = _withdrawal(db_session, w, w.obama, {"face_matching"})
    assert create_takedowns(db_session, event) == []
    assert send_back_unpublished(db_session, event) == []
    assert db_session.scalars(select(TakedownTask)).all() == []
    assert audit_events(db_session, "takedown.opened") == []


def test_every_publication_gets_its_task_in_order(app, db_session):
    w = build_world(db_session, app)
    # Stored in another order than their ids: tasks still follow the publications' ids.
    third = _publication(db_session, w, w.photo, "social_media", {w.obama.id: "show"}, pub_id=9003)
    first = _publication(db_session, w, add_bare_photo(db_session, w), "website", {w.obama.id: "show"},
                         pub_id=9001)
    second = _publication(db_session, w, add_bare_photo(db_session, w), "website", {w.obama.id: "show"},
                          pub_id=9002)
    tasks = create_takedowns(db_session, _withdrawal(
        db_session, w, w.obama, {"website.photo", "social_media.photo"}))
    assert [t.publication_id for t in tasks] == [first.id, second.id, third.id]
    assert [e.object_id for e in audit_events(db_session, "takedown.opened")] == [str(t.id) for t in tasks]


def test_an_open_task_is_not_duplicated_but_a_done_one_or_another_persons_is_no_obstacle(app, db_session):
    w = build_world(db_session, app)
    both = {w.obama.id: "show", w.biden.id: "show"}
    still_open = _publication(db_session, w, w.photo, "website", both)
    was_done = _publication(db_session, w, add_bare_photo(db_session, w), "website", both)
    someone_elses = _publication(db_session, w, add_bare_photo(db_session, w), "website", both)
    _task(db_session, w, still_open, w.obama)
    _task(db_session, w, was_done, w.obama, done=True)
    _task(db_session, w, someone_elses, w.biden)

    tasks = create_takedowns(db_session, _withdrawal(db_session, w, w.obama, {"website.photo"}))

    assert [t.publication_id for t in tasks] == [was_done.id, someone_elses.id]


# --- send_back_unpublished ------------------------------------------------------------


def _approved(session, w: World, photo: Photo, *channels: str, status: str = "approved") -> None:
    for channel in channels:
        session.add(PhotoPurpose(photo_id=photo.id, purpose=channel, status=status,
                                 decided_at=APPROVED_AT, decided_by_id=w.user.id))
    photo.state = "approved" if status == "approved" else photo.state
    session.flush()


def _showing(session, w: World, person, *, school_world: World | None = None,
             video: bool = False, confirm: bool = True) -> Photo:
    owner = school_world or w
    photo = _video(session, owner) if video else add_bare_photo(session, owner)
    face = add_face(session, photo, (180, 120, 420, 420), matched=person)
    if confirm:
        record_review(session, actor=owner.actor, school_id=owner.school.id, face_id=face.id,
                      kind="confirm", expected_version=None, now=APPROVED_AT)
    return photo


def _status(session, photo: Photo) -> dict[str, str]:
    return {pp.purpose: pp.status for pp in session.scalars(
        select(PhotoPurpose).where(PhotoPurpose.photo_id == photo.id))}


def test_approved_unpublished_photos_of_the_person_go_back_for_the_withdrawn_channel_only(
        app, db_session):
    w = build_world(db_session, app)
    other = build_world(db_session, app)
    # Someone else's photo comes first: the photos after it are still looked at.
    someone_elses = _showing(db_session, w, w.biden)
    _approved(db_session, w, someone_elses, "social_media")
    mine = _showing(db_session, w, w.obama)
    _approved(db_session, w, mine, "social_media", "website")
    mine_too = _showing(db_session, w, w.obama)
    _approved(db_session, w, mine_too, "social_media")
    video = _showing(db_session, w, w.obama, video=True)
    _approved(db_session, w, video, "social_media")
    pending = _showing(db_session, w, w.obama)
    _approved(db_session, w, pending, "social_media", status="pending")
    # Another school's approved photo, its face confirmed as a person with the same id.
    elsewhere = _showing(db_session, w, w.obama, school_world=other)
    _approved(db_session, other, elsewhere, "social_media")
    event = _withdrawal(db_session, w, w.obama, {"social_media.photo"})

    sent = send_back_unpublished(db_session, event)

    assert sent == sorted([mine.id, mine_too.id])
    assert _status(db_session, mine) == {"social_media": "pending", "website": "approved"}
    assert mine.state == "approved"  # the website approval still stands
    assert _status(db_session, mine_too) == {"social_media": "pending"}
    assert mine_too.state == "needs_review"
    reason = "Consent of a person in this photo was withdrawn."
    assert mine_too.failure_reason == reason
    voided = db_session.scalar(select(PhotoPurpose).where(PhotoPurpose.photo_id == mine_too.id))
    assert (voided.reason, voided.decided_at, voided.decided_by_id) == (reason, WITHDRAW_AT, None)
    for untouched in (someone_elses, video, elsewhere):
        assert _status(db_session, untouched) == {"social_media": "approved"}
        assert untouched.state == "approved"
    events = audit_events(db_session, "photo.sent_back")
    assert [(e.object_type, e.object_id) for e in events] == [("photo", str(mine.id)),
                                                             ("photo", str(mine_too.id))]
    assert events[0].details == {"purposes": ["social_media"], "consent_record_id": event.record_id}
    assert events[0].subject_ids == [w.obama.id] and events[0].school_id == w.school.id
    assert naive_utc(events[0].at) == naive_utc(WITHDRAW_AT)


def test_a_face_only_suggested_as_the_person_does_not_send_the_photo_back(app, db_session):
    w = build_world(db_session, app)
    suggested = _showing(db_session, w, w.obama, confirm=False)
    _approved(db_session, w, suggested, "website")
    assert send_back_unpublished(db_session, _withdrawal(db_session, w, w.obama, {"website.photo"})) == []
    assert _status(db_session, suggested) == {"website": "approved"}


def test_a_video_goes_back_when_its_video_consent_is_withdrawn(app, db_session):
    w = build_world(db_session, app)
    video = _showing(db_session, w, w.obama, video=True)
    _approved(db_session, w, video, "website")
    photo = _showing(db_session, w, w.obama)
    _approved(db_session, w, photo, "website")
    assert send_back_unpublished(db_session, _withdrawal(db_session, w, w.obama, {"website.video"})) == [
        video.id]
    assert _status(db_session, photo) == {"website": "approved"}


# --- complete_takedown ----------------------------------------------------------------


def test_completing_a_takedown_checks_school_state_and_note(app, db_session):
    w = build_world(db_session, app)
    other = build_world(db_session, app)
    publication = _publication(db_session, w, w.photo, "website", {w.obama.id: "show"})
    task = _task(db_session, w, publication, w.obama)
    done = _task(db_session, w, _publication(db_session, w, add_bare_photo(db_session, w), "website",
                                             {w.obama.id: "show"}), w.obama, done=True)

    def complete(task_id: int, note: str | None = "Removed from the website", school_id=w.school.id):
        return complete_takedown(db_session, actor=w.actor, school_id=school_id, task_id=task_id,
                                 note=note, now=WITHDRAW_AT + timedelta(days=1))  # type: ignore[arg-type]

    # Whole messages: each is the key of its Dutch translation.
    with pytest.raises(NotFound, match=r"^Takedown task not found\.$"):
        complete(task.id + 1000)
    with pytest.raises(NotFound, match=r"^Takedown task not found\.$"):
        complete(task.id, school_id=other.school.id)
    with pytest.raises(InvalidState, match=r"^This takedown was already recorded as done\.$"):
        complete(done.id)
    for blank in ("", "   ", None):
        with pytest.raises(InvalidInput, match=r"^Say where and how the image was removed\.$"):
            complete(task.id, note=blank)
    assert task.done_at is None and publication.taken_down_at is None
    assert audit_events(db_session, "takedown.done") == []

    assert complete(task.id, note="  Removed from the website \n") is task
    assert task.done_at == WITHDRAW_AT + timedelta(days=1)
    assert task.done_by_id == w.user.id and task.done_note == "Removed from the website"
    assert publication.taken_down_at == WITHDRAW_AT + timedelta(days=1)
    (event,) = audit_events(db_session, "takedown.done")
    assert (event.object_type, event.object_id, event.school_id) == ("takedown_task", str(task.id),
                                                                      w.school.id)
    assert event.actor_id == w.user.id and event.subject_ids == [w.obama.id]
    assert event.personal["note"]["v"] == "Removed from the website"
    assert event.details == {"publication_id": publication.id, "purpose": "website"}
    assert naive_utc(event.at) == naive_utc(WITHDRAW_AT + timedelta(days=1))


def test_a_publication_counts_as_taken_down_only_when_its_last_task_is_done(app, db_session):
    w = build_world(db_session, app)
    publication = _publication(db_session, w, w.photo, "website",
                               {w.obama.id: "show", w.biden.id: "show"})
    # Another publication's open task does not hold this one back.
    elsewhere = _publication(db_session, w, add_bare_photo(db_session, w), "website", {w.obama.id: "show"})
    _task(db_session, w, elsewhere, w.obama)
    first, second = _task(db_session, w, publication, w.obama), _task(db_session, w, publication, w.biden)

    complete_takedown(db_session, actor=w.actor, school_id=w.school.id, task_id=first.id,
                      note="removed", now=WITHDRAW_AT)
    assert publication.taken_down_at is None
    complete_takedown(db_session, actor=w.actor, school_id=w.school.id, task_id=second.id,
                      note="removed", now=WITHDRAW_AT + timedelta(hours=2))
    assert publication.taken_down_at == WITHDRAW_AT + timedelta(hours=2)
    assert elsewhere.taken_down_at is None


def test_a_task_whose_person_was_erased_completes_without_subjects(app, db_session):
    w = build_world(db_session, app)
    publication = _publication(db_session, w, w.photo, "website", {w.obama.id: "show"})
    task = _task(db_session, w, publication, w.obama)
    task.person_id = None
    db_session.flush()
    complete_takedown(db_session, actor=w.actor, school_id=w.school.id, task_id=task.id,
                      note="removed", now=WITHDRAW_AT)
    (event,) = audit_events(db_session, "takedown.done")
    assert event.subject_ids == []


# --- the lists ------------------------------------------------------------------------


def test_open_and_done_lists_and_the_count_are_per_school_and_in_order(app, db_session):
    w = build_world(db_session, app)
    other = build_world(db_session, app)
    publication = _publication(db_session, w, w.photo, "website", {w.obama.id: "show"})
    late = _task(db_session, w, publication, w.obama, created_at=WITHDRAW_AT + timedelta(hours=3))
    # Two at the same moment, the higher id stored first: the id breaks the tie.
    same_time = _task(db_session, w, publication, w.obama, created_at=WITHDRAW_AT, task_id=9002)
    early = _task(db_session, w, publication, w.biden, created_at=WITHDRAW_AT, task_id=9001)
    done_first = _task(db_session, w, publication, w.obama, done=True, created_at=WITHDRAW_AT)
    done_last = _task(db_session, w, publication, w.biden, done=True,
                      created_at=WITHDRAW_AT + timedelta(days=1))
    theirs = _publication(db_session, other, other.photo, "website", {other.obama.id: "show"})
    _task(db_session, other, theirs, other.obama)
    _task(db_session, other, theirs, other.obama, done=True)

    assert count_open_takedowns(db_session, w.school.id) == 3
    assert count_open_takedowns(db_session, other.school.id) == 1
    assert open_takedowns(db_session, w.school.id) == [early, same_time, late]
    assert recent_done_takedowns(db_session, w.school.id) == [done_last, done_first]
    assert recent_done_takedowns(db_session, w.school.id, limit=1) == [done_last]
    assert count_open_takedowns(db_session, w.school.id + 1000) == 0


def test_fifty_done_takedowns_are_listed_by_default(app, db_session):
    w = build_world(db_session, app)
    publication = _publication(db_session, w, w.photo, "website", {w.obama.id: "show"})
    for hour in range(52):
        _task(db_session, w, publication, w.obama, done=True,
              created_at=WITHDRAW_AT + timedelta(hours=hour))
    listed = recent_done_takedowns(db_session, w.school.id)
    assert len(listed) == 50
    assert listed[0].done_at == WITHDRAW_AT + timedelta(hours=52)


def test_the_withdrawal_actor_is_the_system(app, db_session):
    w = build_world(db_session, app)
    _publication(db_session, w, w.photo, "website", {w.obama.id: "show"})
    create_takedowns(db_session, _withdrawal(db_session, w, w.obama, {"website.photo"}))
    (event,) = audit_events(db_session, "takedown.opened")
    assert event.actor_id is None
    assert event.actor_label == Actor.system("consent-withdrawal").label


def test_a_withdrawal_opens_its_tasks_mails_the_pr_officers_and_sends_photos_back(app, db_session):
    w = build_world(db_session, app)
    published = _publication(db_session, w, w.photo, "website", {w.obama.id: "show"})
    approved = _showing(db_session, w, w.obama)
    _approved(db_session, w, approved, "website")

    on_purposes_withdrawn(db_session, _withdrawal(db_session, w, w.obama, {"website.photo"}))

    (task,) = open_takedowns(db_session, w.school.id)
    assert task.publication_id == published.id
    (mail,) = db_session.scalars(select(OutboxMessage)).all()
    assert mail.to_address == w.user.email and mail.school_id == w.school.id
    assert mail.created_at == WITHDRAW_AT
    assert _status(db_session, approved) == {"website": "pending"}


def test_nothing_to_take_down_mails_nobody(app, db_session):
    w = build_world(db_session, app)
    on_purposes_withdrawn(db_session, _withdrawal(db_session, w, w.obama, {"website.photo"}))
    assert db_session.scalars(select(OutboxMessage)).all() == []
