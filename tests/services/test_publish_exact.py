"""Approval and publication, pinned rule by rule.

test_publish_service.py and test_publish_group.py prove the promise end to
end on real photos; here each condition of consentflow.publish.service gets
a case of its own with exact expected values (most of them before any
rendering or detection), so that breaking one of them fails a test.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from consentflow.errors import ConflictError, InvalidInput, InvalidState, NotFound
from consentflow.faces.engine import EngineSettings
from consentflow.faces.matching import MatchThresholds
from consentflow.models import FaceReview, PhotoPurpose, Publication, ReferenceFace
from consentflow.photos.boxes import Box
from consentflow.photos.crypto import cipher_from_config
from consentflow.publish.redact import render_derivative
from consentflow.publish.redaction import set_face_redaction
from consentflow.publish.service import (
    REFUSALS,
    VIDEO_PATH,
    ClaimLost,
    PublicationRefused,
    approve_purpose,
    get_publication,
    live_publication,
    preview_derivative,
    publication_purpose_status,
    publish_photo,
    recheck_at_publication,
    record_publication,
    release_claim,
)
from consentflow.review.rules import resolve_faces
from consentflow.review.service import record_review
from tests.services.test_publish_group import _twins_world
from tests.services.test_publish_support import (
    APPROVED_AT,
    BIDEN_BOX,
    OBAMA_BOX,
    PUBLISH_AT,
    World,
    add_bare_photo,
    add_face,
    audit_events,
    build_world,
    confirm_both,
    consent,
    naive_utc,
)

WEB = "website"
LONG_AGO = APPROVED_AT - timedelta(days=30)






def _approve(session, w: World, channel: str = WEB, *, photo_id: int | None = None,
             at: datetime = APPROVED_AT) -> PhotoPurpose:
    return approve_purpose(session, actor=w.actor, school_id=w.school.id,
                           photo_id=photo_id or w.photo.id, channel=channel, expected_version=None,
                           now=at)


def _recheck(session, w: World, channel: str = WEB, at: datetime = PUBLISH_AT):
    return recheck_at_publication(session, actor=w.actor, photo=w.photo, channel=channel,
                                  medium="photo", now=at)


def _publish(session, w: World, channel: str = WEB, **extra):
    return publish_photo(session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                         channel=channel, storage=w.storage, now=PUBLISH_AT,
                         tolerance=MatchThresholds.defaults().loose, **extra)


def _ready(session, w: World) -> None:
    """Obama may be shown on the website, Biden not; both confirmed."""
    consent(session, w, w.obama, {"website.photo"}, at=LONG_AGO)
    confirm_both(session, w)


# --- approval -----------------------------------------------------------------------


def test_approval_records_who_when_and_what_and_moves_the_photo_on(app, db_session):
    w = build_world(db_session, app)
    _ready(db_session, w)
    w.photo.failure_reason = "sent back earlier"

    pp = _approve(db_session, w)

    assert (pp.status, pp.reason, pp.refusal) == ("approved", None, None)
    assert (pp.decided_by_id, pp.decided_at) == (w.user.id, APPROVED_AT)
    assert (w.photo.state, w.photo.failure_reason) == ("approved", None)
    (event,) = audit_events(db_session, "photo.approved")
    assert (event.object_type, event.object_id, event.school_id) == ("photo", str(w.photo.id), w.school.id)
    assert event.subject_ids == [w.obama.id] and event.actor_id == w.user.id
    assert event.details == {"purpose": WEB, "shown": 1, "blurred": 1}
    assert naive_utc(event.at) == naive_utc(APPROVED_AT)


def test_approving_a_published_photo_for_another_channel_keeps_it_published(app, db_session):
    w = build_world(db_session, app)
    _ready(db_session, w)
    w.photo.state = "published"
    assert _approve(db_session, w).status == "approved"
    assert w.photo.state == "published"


def test_a_large_blurred_face_blocks_with_the_share_in_words(app, db_session):
    w = build_world(db_session, app)
    _ready(db_session, w)
    w.school.block_face_share = 0.02  # Biden's face covers ~5 % of the photo

    pp = _approve(db_session, w)

    assert pp.status == "blocked" and w.photo.state == "needs_review"
    assert pp.reason == ("A face that must be blurred covers 5% of the photo (school limit 2%): "
                         "blurring would leave the photo's subject hidden.")
    assert (pp.decided_by_id, pp.decided_at) == (w.user.id, APPROVED_AT)
    (event,) = audit_events(db_session, "photo.auto_blocked")
    assert event.details == {"purpose": WEB, "shown": 1, "blurred": 1}
    assert audit_events(db_session, "photo.approved") == []


def test_approval_counts_the_blurred_faces_in_the_audit_trail(app, db_session):
    w = build_world(db_session, app)
    confirm_both(db_session, w)  # nobody consented: both blurred, nobody shown
    _approve(db_session, w)
    (event,) = audit_events(db_session, "photo.approved")
    assert event.details == {"purpose": WEB, "shown": 0, "blurred": 2} and event.subject_ids == []


def test_approval_refuses_a_reviewer_who_saw_an_older_version(app, db_session):
    w = build_world(db_session, app)
    _ready(db_session, w)
    seen = w.photo.version
    w.photo.version = seen + 1  # someone else changed the photo since
    db_session.flush()
    with pytest.raises(ConflictError):
        approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id, channel=WEB,
                        expected_version=seen, now=APPROVED_AT)
    assert audit_events(db_session, "photo.approved") == []


def test_a_video_is_never_blocked_by_the_share_of_a_face(app, db_session):
    w = build_world(db_session, app)
    w.school.block_face_share = 0.0
    video = add_bare_photo(db_session, w, "video/mp4")
    # A face filling half the frame, blurred (nobody knows who it is): a still would be blocked.
    add_face(db_session, video, (0, 0, 700, 600))
    assert _approve(db_session, w, photo_id=video.id).status == "approved"


def test_a_video_is_sent_back_by_its_own_consent_not_the_photo_consent(app, db_session):
    w = build_world(db_session, app)
    video = add_bare_photo(db_session, w, "video/mp4")
    face = add_face(db_session, video, (100, 100, 200, 220), matched=w.obama)
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=face.id, kind="confirm",
                  expected_version=None, now=APPROVED_AT)
    consent(db_session, w, w.obama, {"website.photo", "website.video"}, at=LONG_AGO)
    _approve(db_session, w, photo_id=video.id)

    def recheck():
        return recheck_at_publication(db_session, actor=w.actor, photo=video, channel=WEB, medium="video",
                                      now=PUBLISH_AT)

    # Photos withdrawn, film kept: nothing this video depends on changed.
    consent(db_session, w, w.obama, {"website.video"}, at=APPROVED_AT + timedelta(hours=1))
    _pp, _resolved, decisions = recheck()
    assert [(d.resolved.person_id, d.decision) for d in decisions] == [(w.obama.id, "show")]
    # Film withdrawn too: sent back.
    consent(db_session, w, w.obama, set(), at=APPROVED_AT + timedelta(hours=2))
    with pytest.raises(PublicationRefused) as refused:
        recheck()
    assert refused.value.code == "consent_changed"


@pytest.mark.parametrize(("prepare", "error", "message"), [
    (lambda w: None, InvalidInput, "Unknown purpose."),
    (lambda w: setattr(w.photo, "state", "processing"), InvalidState, "Only reviewed photos can be approved."),
    (lambda w: setattr(w.photo, "state", "rejected"), InvalidState, "Only reviewed photos can be approved."),
])
def test_approval_refuses_an_unknown_channel_and_an_unreviewed_photo(app, db_session, prepare, error, message):
    w = build_world(db_session, app)
    prepare(w)
    channel = "billboard" if error is InvalidInput else WEB
    with pytest.raises(error, match=f"^{message}$"):
        _approve(db_session, w, channel)


@pytest.mark.parametrize(("status", "message"), [
    ("blocked", "This photo is blocked for this purpose; unblock it first."),
    ("publishing", "This photo is being published for this purpose; wait for the result."),
])
def test_approval_leaves_a_blocked_or_publishing_purpose_alone(app, db_session, status, message):
    w = build_world(db_session, app)
    db_session.add(PhotoPurpose(photo_id=w.photo.id, purpose=WEB, status=status))
    db_session.flush()
    with pytest.raises(InvalidState, match=f"^{message}$"):
        _approve(db_session, w)


# --- the checks again at publication --------------------------------------------------


@pytest.mark.parametrize(("state", "status", "key", "live", "message"), [
    ("needs_review", "approved", True, False, "Approve the photo for this purpose before publishing it."),
    ("approved", "pending", True, False, "Approve the photo for this purpose before publishing it."),
    ("approved", "blocked", True, False, "Approve the photo for this purpose before publishing it."),
    ("approved", "approved", False, False, "The original of this photo no longer exists."),
    ("approved", "approved", True, True, "This photo is already published for this purpose."),
])
def test_publication_needs_an_approval_an_original_and_no_live_publication(
        app, db_session, state, status, key, live, message):
    w = build_world(db_session, app)
    _ready(db_session, w)
    w.photo.state = state
    db_session.add(PhotoPurpose(photo_id=w.photo.id, purpose=WEB, status=status, decided_at=APPROVED_AT))
    if not key:
        w.photo.storage_key = None
    if live:
        db_session.add(Publication(school_id=w.school.id, photo_id=w.photo.id, purpose=WEB,
                                   derivative_sha256="0" * 64, snapshot=[], published_at=APPROVED_AT))
    db_session.flush()
    with pytest.raises(InvalidState, match=f"^{message}$"):
        _recheck(db_session, w)


@pytest.mark.parametrize(("state", "status"), [("approved", "approved"), ("published", "publishing")])
def test_publication_goes_ahead_for_a_claimed_or_approved_purpose(app, db_session, state, status):
    w = build_world(db_session, app)
    _ready(db_session, w)
    w.photo.state = state
    db_session.add(PhotoPurpose(photo_id=w.photo.id, purpose=WEB, status=status, decided_at=APPROVED_AT))
    # A taken-down publication does not count as live, nor does another photo's.
    db_session.add(Publication(school_id=w.school.id, photo_id=w.photo.id, purpose=WEB,
                               derivative_sha256="0" * 64, snapshot=[], published_at=LONG_AGO,
                               taken_down_at=APPROVED_AT))
    db_session.add(Publication(school_id=w.school.id, photo_id=add_bare_photo(db_session, w).id, purpose=WEB,
                               derivative_sha256="1" * 64, snapshot=[], published_at=LONG_AGO))
    db_session.flush()
    pp, resolved, decisions = _recheck(db_session, w)
    assert pp.purpose == WEB and len(resolved) == 2
    assert [(d.resolved.person_id, d.decision) for d in decisions] == [
        (w.obama.id, "show"), (w.biden.id, "blur_no_consent")]


def _approved_then(session, w: World, granted: set[str], *, at: datetime, person=None) -> None:
    _ready(session, w)
    _approve(session, w)
    consent(session, w, person or w.obama, granted, at=at)


@pytest.mark.parametrize(("granted", "changed"), [
    ({"website.photo"}, False),                       # the same answer again
    ({"website.photo", "social_media.photo"}, False),  # another channel changed
    (set(), True),                                     # the published channel withdrawn
    ({"website.photo", "face_matching"}, True),        # face matching changed
])
def test_a_later_answer_sends_the_photo_back_only_when_it_changes_this_channel_or_matching(
        app, db_session, granted, changed):
    w = build_world(db_session, app)
    _approved_then(db_session, w, granted, at=APPROVED_AT + timedelta(hours=1))
    if not changed:
        _recheck(db_session, w)
        return
    with pytest.raises(PublicationRefused) as refused:
        _recheck(db_session, w)
    assert refused.value.code == "consent_changed" and refused.value.sent_back is True
    assert str(refused.value) == REFUSALS["consent_changed"]


def test_an_answer_recorded_at_the_approval_itself_is_no_change(app, db_session):
    w = build_world(db_session, app)
    _ready(db_session, w)
    _approve(db_session, w)
    # Recorded at the approval's very moment (saying no): the record in force then, not a change.
    consent(db_session, w, w.obama, set(), at=APPROVED_AT)
    _recheck(db_session, w)


def test_someone_elses_change_or_nobody_identified_changes_nothing(app, db_session):
    w = build_world(db_session, app)
    _approved_then(db_session, w, set(), at=APPROVED_AT + timedelta(hours=1), person=w.biden)
    _recheck(db_session, w)


def test_a_consent_change_sends_back_this_channel_only_and_keeps_the_refusal(app, db_session):
    w = build_world(db_session, app)
    _ready(db_session, w)
    _approve(db_session, w)
    _approve(db_session, w, "social_media")
    consent(db_session, w, w.obama, set(), at=APPROVED_AT + timedelta(hours=1))
    pp = db_session.scalar(select(PhotoPurpose).where(PhotoPurpose.purpose == WEB))
    pp.status, pp.publish_requested_at, pp.publish_note = "publishing", PUBLISH_AT, "queued"

    with pytest.raises(PublicationRefused):
        _recheck(db_session, w)

    statuses = {p.purpose: p.status for p in db_session.scalars(select(PhotoPurpose))}
    assert statuses == {WEB: "pending", "social_media": "approved"}
    assert (pp.reason, pp.refusal) == (None, {"code": "consent_changed", "leaks": []})
    assert (pp.publish_requested_at, pp.publish_note) == (None, None)
    assert w.photo.failure_reason is None and w.photo.state == "approved"
    (event,) = audit_events(db_session, "photo.publication_refused")
    assert (event.object_type, event.object_id, event.school_id) == ("photo", str(w.photo.id), w.school.id)
    assert event.details == {"purpose": WEB, "reason": REFUSALS["consent_changed"],
                             "code": "consent_changed", "leaks": []}
    assert naive_utc(event.at) == naive_utc(PUBLISH_AT)


def test_releasing_a_claim_approves_again_and_forgets_the_run():
    pp = PhotoPurpose(purpose=WEB, status="publishing", publish_requested_at=PUBLISH_AT,
                      publish_started_at=PUBLISH_AT, publish_requested_by_id=7, publish_note="x")
    release_claim(pp)
    assert (pp.status, pp.publish_requested_at, pp.publish_started_at, pp.publish_requested_by_id,
            pp.publish_note) == ("approved", None, None, None, None)
    blocked = PhotoPurpose(purpose=WEB, status="blocked")
    release_claim(blocked)
    assert blocked.status == "blocked"


# --- the blurred people's references ------------------------------------------------------


def _biden_reference(session, app, w: World, data: bytes | None = None) -> None:
    cipher = cipher_from_config(app.config)
    session.add(ReferenceFace(school_id=w.school.id, person_id=w.biden.id, portrait_sha256="b" * 64,
                              encoding_encrypted=data or cipher.encrypt(np.zeros(128))))
    session.flush()


@pytest.mark.parametrize(("cipher", "data", "code"), [
    (False, None, "key_missing"),
    (True, b"not a token", "reference_unreadable"),
])
def test_references_that_cannot_be_read_refuse_in_place(app, db_session, cipher, data, code):
    w = build_world(db_session, app)
    _ready(db_session, w)
    _biden_reference(db_session, app, w, data)
    _approve(db_session, w)
    extra = {"cipher": cipher_from_config(app.config)} if cipher else {}

    with pytest.raises(PublicationRefused) as refused:
        _publish(db_session, w, **extra)

    assert refused.value.code == code and refused.value.sent_back is False
    assert str(refused.value) == REFUSALS[code]
    pp = db_session.scalar(select(PhotoPurpose).where(PhotoPurpose.purpose == WEB))
    assert (pp.status, pp.refusal) == ("approved", {"code": code, "leaks": []})
    assert w.photo.state == "approved"
    (event,) = audit_events(db_session, "photo.publication_refused")
    assert event.details == {"purpose": WEB, "reason": REFUSALS[code], "code": code}
    assert (event.object_type, event.object_id, event.school_id) == ("photo", str(w.photo.id), w.school.id)
    assert naive_utc(event.at) == naive_utc(PUBLISH_AT)
    assert db_session.scalars(select(Publication)).all() == []


# --- the publication record ---------------------------------------------------------------


def test_a_publication_records_the_faces_the_consents_and_the_check(app, db_session):
    w = build_world(db_session, app)
    record = consent(db_session, w, w.obama, {"website.photo"}, at=LONG_AGO)
    confirm_both(db_session, w)
    _approve(db_session, w)
    pp = db_session.scalar(select(PhotoPurpose).where(PhotoPurpose.purpose == WEB))
    pp.refusal = {"code": "leak", "leaks": []}  # an earlier refusal is cleared by publishing
    solid = set_face_redaction(db_session, actor=w.actor, school_id=w.school.id,
                               face_id=w.biden_face.id, mode="solid", now=APPROVED_AT)

    publication = _publish(db_session, w, channel_note="  Homepage  ")

    obama_review, biden_review = (r.review for r in resolve_faces(db_session, w.photo.id))
    assert publication.channel_note == "Homepage" and publication.maker_credit == "J. Fotograaf"
    assert (publication.school_id, publication.photo_id, publication.purpose) == (w.school.id, w.photo.id, WEB)
    assert (publication.published_by_id, publication.published_at) == (w.user.id, PUBLISH_AT)
    assert publication.video_snapshot is None
    assert publication.derivative_key.startswith("deriv/") and w.storage.read(publication.derivative_key)
    assert publication.snapshot == [
        {"face_id": w.obama_face.id, "box": list(OBAMA_BOX), "person_id": w.obama.id,
         "name": "Barack Obama", "decision": "show", "basis": "consent",
         "consent_record_id": record.id, "review_id": obama_review.id, "note": None,
         "redaction": None},
        {"face_id": w.biden_face.id, "box": list(BIDEN_BOX), "person_id": w.biden.id,
         "name": "Joe Biden", "decision": "blur_no_consent", "basis": "no_consent",
         "consent_record_id": None, "review_id": biden_review.id, "note": None,
         "redaction": "solid"},
    ]
    assert solid.face_id == w.biden_face.id
    biden = Box(*BIDEN_BOX)
    assert w.storage.read(publication.derivative_key) == render_derivative(
        w.storage.read(w.photo.storage_key), [biden], {biden: "solid"}).data
    assert (pp.status, pp.refusal) == ("approved", None)
    assert (w.photo.state, w.photo.failure_reason) == ("published", None)
    (event,) = audit_events(db_session, "photo.published")
    assert (event.object_type, event.object_id) == ("publication", str(publication.id))
    assert event.subject_ids == sorted([w.obama.id, w.biden.id])
    assert event.details == {
        "photo_id": w.photo.id, "purpose": WEB, "sha256": publication.derivative_sha256, "faces": 2,
        "blurred": 1, "redactions": {str(w.biden_face.id): "solid"},
        "faces_in_derivative": 1, "consent_records": [record.id]}
    assert naive_utc(event.at) == naive_utc(PUBLISH_AT)
    assert live_publication(db_session, w.photo.id, WEB) is publication
    assert live_publication(db_session, w.photo.id, "social_media") is None
    assert publication_purpose_status(db_session, w.photo.id) == {WEB: pp}


def test_a_blank_channel_note_is_none_and_a_lost_claim_records_nothing(app, db_session):
    w = build_world(db_session, app)
    _ready(db_session, w)
    _approve(db_session, w)
    with pytest.raises(ClaimLost, match="^Another worker took over this publication.$"):
        _publish(db_session, w, still_ours=lambda: False)
    assert db_session.scalars(select(Publication)).all() == []
    publication = _publish(db_session, w, channel_note="   ", still_ours=lambda: True)
    assert publication.channel_note is None
    # A blurred face without a chosen redaction gets the standard one, in the file and the record.
    assert publication.snapshot[1]["redaction"] == "standard"
    original = w.storage.read(w.photo.storage_key)
    assert w.storage.read(publication.derivative_key) == render_derivative(original, [Box(*BIDEN_BOX)]).data


def test_readable_references_let_the_check_run_and_publish(app, db_session):
    w = build_world(db_session, app)
    _ready(db_session, w)
    # Biden (blurred) has a reference portrait; his blurred face no longer matches it.
    _biden_reference(db_session, app, w)
    w.album.maker = ""  # no maker to credit
    _approve(db_session, w)
    publication = _publish(db_session, w, cipher=cipher_from_config(app.config))
    assert publication.maker_credit == "" and publication.channel_note is None


def test_the_snapshot_names_an_external_adult_with_the_reviewers_note_and_no_one_elses_note(app, db_session):
    w = build_world(db_session, app)
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.obama_face.id,
                  kind="external_adult", expected_version=None, now=APPROVED_AT, note="The photographer")
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.biden_face.id,
                  kind="confirm", expected_version=None, now=APPROVED_AT, note="Seen at the gate")
    _approve(db_session, w)
    snapshot = _publish(db_session, w).snapshot
    assert [(e["person_id"], e["name"], e["decision"], e["note"]) for e in snapshot] == [
        (None, "external adult", "show", "The photographer"),
        (w.biden.id, "Joe Biden", "blur_no_consent", None)]


def test_a_video_publication_keeps_its_own_record(app, db_session):
    w = build_world(db_session, app)
    pp = PhotoPurpose(photo_id=w.photo.id, purpose=WEB, status="publishing")
    db_session.add(pp)
    db_session.flush()
    publication = record_publication(
        db_session, actor=w.actor, school_id=w.school.id, photo=w.photo, pp=pp, channel=WEB,
        channel_note=None, sha256="9" * 64, key="deriv/x", snapshot=[], now=PUBLISH_AT,
        action="video.published", details={"frames": 3}, video_snapshot={"sound": "dropped"})
    assert publication.video_snapshot == {"sound": "dropped"} and publication.channel_note is None
    (event,) = audit_events(db_session, "video.published")
    assert (event.object_type, event.object_id, event.school_id) == ("publication", str(publication.id),
                                                                      w.school.id)
    assert event.details == {"photo_id": w.photo.id, "purpose": WEB, "sha256": "9" * 64, "frames": 3,
                             "consent_records": []}


def test_a_video_is_not_published_as_a_photo(app, db_session):
    w = build_world(db_session, app)
    w.photo.media_type = "video/mp4"
    db_session.flush()
    with pytest.raises(InvalidState, match=f"^{VIDEO_PATH}$"):
        _publish(db_session, w)
    with pytest.raises(InvalidState, match=f"^{VIDEO_PATH}$"):
        preview_derivative(db_session, school_id=w.school.id, photo_id=w.photo.id, channel=WEB,
                           storage=w.storage, now=PUBLISH_AT)


def test_the_preview_is_the_derivative_as_it_would_be_published_now(app, db_session):
    w = build_world(db_session, app)
    _ready(db_session, w)
    set_face_redaction(db_session, actor=w.actor, school_id=w.school.id, face_id=w.biden_face.id,
                       mode="wide", now=APPROVED_AT)
    preview = preview_derivative(db_session, school_id=w.school.id, photo_id=w.photo.id, channel=WEB,
                                 storage=w.storage, now=PUBLISH_AT)
    obama, biden = Box(*OBAMA_BOX), Box(*BIDEN_BOX)
    expected = render_derivative(w.storage.read(w.photo.storage_key), [biden], {biden: "wide"})
    assert preview == expected.data
    # Social media: nobody consented, both are blurred (the standard way for Obama).
    both = preview_derivative(db_session, school_id=w.school.id, photo_id=w.photo.id,
                              channel="social_media", storage=w.storage, now=PUBLISH_AT)
    assert both == render_derivative(w.storage.read(w.photo.storage_key), [obama, biden],
                                     {biden: "wide"}).data
    w.photo.storage_key = None
    with pytest.raises(InvalidState, match="^The original of this photo no longer exists.$"):
        preview_derivative(db_session, school_id=w.school.id, photo_id=w.photo.id, channel=WEB,
                           storage=w.storage, now=PUBLISH_AT)


def test_publications_are_found_per_school(app, db_session):
    w = build_world(db_session, app)
    other = build_world(db_session, app)
    publication = Publication(school_id=w.school.id, photo_id=w.photo.id, purpose=WEB,
                              derivative_sha256="0" * 64, snapshot=[], published_at=PUBLISH_AT)
    db_session.add(publication)
    db_session.flush()
    assert get_publication(db_session, w.school.id, publication.id) is publication
    for school_id, publication_id in ((other.school.id, publication.id), (w.school.id, publication.id + 9)):
        with pytest.raises(NotFound, match="^Publication not found.$"):
            get_publication(db_session, school_id, publication_id)


def test_the_refusal_reasons_in_the_audit_trail_are_written_out():
    # The audit trail keeps these words for good: a change must be deliberate.
    assert REFUSALS == {
        "consent_changed": "Consent of a person in this photo changed since approval; review the photo again.",
        "leak": "A face in the redacted photo still shows someone who must be blurred.",
        "key_missing": "The face key is missing, so the blurred people's reference portraits cannot be "
                       "compared; nothing was published. Ask the administrator to restore the key.",
        "reference_unreadable": "A reference portrait of a blurred person cannot be decrypted, so the check "
                                "cannot be completed; nothing was published. Ask the administrator to "
                                "check the face key.",
    }
    assert VIDEO_PATH == "A video is published through its own render job, not as a photo."


def test_a_leak_sends_every_channel_back_and_keeps_the_faces_that_caused_it(app, db_session):
    w = build_world(db_session, app)
    db_session.delete(w.biden_face)  # as if the detector had missed Biden: nobody reviewed his face
    consent(db_session, w, w.obama, {"website.photo", "social_media.photo"}, at=LONG_AGO)
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.obama_face.id, kind="confirm",
                  expected_version=None, now=APPROVED_AT)
    _approve(db_session, w)
    _approve(db_session, w, "social_media")

    with pytest.raises(PublicationRefused) as refused:
        _publish(db_session, w)

    assert (refused.value.code, refused.value.sent_back) == ("leak", True)
    (leak,) = refused.value.leaks
    assert (leak.face_id, leak.reason, leak.person_id, leak.distance) == (None, "unreviewed_face", None, None)
    assert Box(*BIDEN_BOX).iou(leak.box) > 0.3
    expected = {"code": "leak", "leaks": [{"face_id": None, "box": [leak.box.left, leak.box.top,
                                                                    leak.box.right, leak.box.bottom],
                                           "reason": "unreviewed_face", "person_id": None, "distance": None}]}
    statuses = {p.purpose: (p.status, p.refusal) for p in db_session.scalars(select(PhotoPurpose))}
    assert statuses == {WEB: ("pending", expected), "social_media": ("pending", None)}
    # The other channel's approval is voided with the reason and the moment.
    social = db_session.scalar(select(PhotoPurpose).where(PhotoPurpose.purpose == "social_media"))
    assert (social.reason, social.decided_at, social.decided_by_id) == (REFUSALS["leak"], PUBLISH_AT, None)
    assert (w.photo.state, w.photo.failure_reason) == ("needs_review", None)
    (event,) = audit_events(db_session, "photo.publication_refused")
    assert event.details == {"purpose": WEB, "reason": REFUSALS["leak"], **expected}
    assert db_session.scalars(select(Publication)).all() == []


@pytest.mark.parametrize("tie", ["assigned", "suggested", "candidate", "right_face_unreviewed"])
def test_a_blurred_persons_references_are_checked_however_the_face_is_tied_to_them(app, db_session, tie):
    """Obama twice: the left face blurred, the right one marked "not a face" (it shows him)."""
    w, left, right, cipher = _twins_world(db_session, app)
    right_box = Box(right.left, right.top, right.right, right.bottom)
    # The leak is put on the "not a face" that shows him, or, when the right face is no face
    # of the photo at all, on the blurred face of the person it shows.
    leak_face = right.id
    if tie == "right_face_unreviewed":
        db_session.delete(right)
        leak_face = left.id
    elif tie != "assigned":
        for review in db_session.scalars(select(FaceReview).where(FaceReview.face_id == left.id)):
            review.revoked_at = APPROVED_AT
        if tie == "suggested":
            left.match_status, left.matched_person_id, left.distance = "matched", w.obama.id, 0.4
        else:
            left.match_status, left.matched_person_id = "unknown", None
            left.candidates = [{"person_id": w.obama.id, "distance": 0.55}]
    db_session.flush()
    _approve(db_session, w)

    with pytest.raises(PublicationRefused) as refused:
        _publish(db_session, w, cipher=cipher)

    assert [(leak.face_id, leak.reason, leak.person_id) for leak in refused.value.leaks] == [
        (leak_face, "resembles_blurred_person", w.obama.id)]
    assert right_box.iou(refused.value.leaks[0].box) > 0.5


def test_a_face_grown_too_large_for_the_school_blocks_at_publication_in_words(app, db_session):
    w = build_world(db_session, app)
    _ready(db_session, w)
    _approve(db_session, w)
    w.school.block_face_share = 0.02  # lowered after the approval
    with pytest.raises(InvalidState) as blocked:
        _publish(db_session, w)
    assert str(blocked.value) == ("A face that must be blurred covers 5% of the photo (school limit 2%): "
                                  "blurring would leave the photo's subject hidden.")


def test_the_check_runs_the_configured_engine(app, db_session):
    """The engine settings given to publication are the ones its check detects with."""
    w = build_world(db_session, app)
    db_session.delete(w.biden_face)  # an unreviewed face: the default engine finds it and refuses
    consent(db_session, w, w.obama, {"website.photo"}, at=LONG_AGO)
    record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=w.obama_face.id, kind="confirm",
                  expected_version=None, now=APPROVED_AT)
    _approve(db_session, w)
    blind = dataclasses.replace(EngineSettings(), hog=False, centerface=False, tiling=False)
    publication = _publish(db_session, w, settings=blind)
    assert publication.purpose == WEB
