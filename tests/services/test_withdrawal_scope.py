"""Withdrawing one channel touches only that channel (issue 8, item 7 of 9: "approvals of other channels stay").

Both directions: social media withdrawn leaves the website approval (and its
publication) alone, and the other way round. The publish-time re-check still
refuses the channel whose consent was withdrawn, even when the withdrawal
bypassed the event (a record written directly).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.consent.service import record_consent
from consentflow.errors import InvalidState
from consentflow.faces.matching import MatchThresholds
from consentflow.models import PhotoPurpose
from consentflow.publish.service import PublicationRefused, approve_purpose, publish_photo
from tests.services.test_publish_support import (
    APPROVED_AT,
    build_world,
    confirm_both,
    consent,
)

pytestmark = [pytest.mark.slow]
BOTH = {"social_media.photo": True, "website.photo": True}
WITHDRAW_AT = APPROVED_AT + timedelta(days=1)
PUBLISH_AT = WITHDRAW_AT + timedelta(hours=1)


def _record(db_session, app, w, person, decisions, at):
    return record_consent(
        db_session, actor=Actor.system("test"), person_id=person.id, school_year_id=w.year.id,
        form_id=w.form.id, decisions=decisions, signer_kind="self", signer_guardian_id=None,
        signer_name=None, method="in_person", signed_at=at, evidence=None,
        evidence_filename=None, storage_dir=app.config["STORAGE_DIR"], now=at,
    )


def _status(db_session, photo, channel):
    return db_session.scalar(select(PhotoPurpose.status).where(
        PhotoPurpose.photo_id == photo.id, PhotoPurpose.purpose == channel))


def _approved_world(db_session, app):
    w = build_world(db_session, app)
    for person in (w.obama, w.biden):
        _record(db_session, app, w, person, BOTH, APPROVED_AT - timedelta(days=20))
    confirm_both(db_session, w)
    for channel in ("website", "social_media"):
        approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                        channel=channel, expected_version=None, now=APPROVED_AT)
    db_session.commit()
    return w


def _publish(db_session, w, channel):
    return publish_photo(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                         channel=channel, storage=w.storage, now=PUBLISH_AT,
                         tolerance=MatchThresholds.defaults().loose)


@pytest.mark.parametrize(("withdrawn", "kept"), [("social_media", "website"),
                                                 ("website", "social_media")])
def test_withdrawing_one_channel_keeps_the_other_approval(app, db_session, withdrawn, kept):
    w = _approved_world(db_session, app)

    _record(db_session, app, w, w.obama,
            {f"{withdrawn}.photo": False, f"{kept}.photo": True}, WITHDRAW_AT)
    db_session.commit()

    assert _status(db_session, w.photo, withdrawn) == "pending"
    assert _status(db_session, w.photo, kept) == "approved"
    assert w.photo.state == "approved"

    # The kept approval is still good for publishing: Obama is shown on that channel.
    publication = _publish(db_session, w, kept)
    db_session.commit()
    shown = {e["person_id"] for e in publication.snapshot if e["decision"] == "show"}
    assert shown == {w.obama.id, w.biden.id}
    # The withdrawn channel cannot be published without a new approval.
    with pytest.raises(InvalidState, match="Approve the photo"):
        _publish(db_session, w, withdrawn)


def test_publishing_still_refuses_the_channel_whose_consent_changed(app, db_session):
    """Written around the event (no takedown handler ran): the publish-time check must catch it."""
    w = _approved_world(db_session, app)
    consent(db_session, w, w.obama, {"social_media.photo"}, at=WITHDRAW_AT)  # website now "no"
    db_session.commit()
    assert _status(db_session, w.photo, "website") == "approved"

    with pytest.raises(PublicationRefused) as refused:
        _publish(db_session, w, "website")
    db_session.commit()
    assert refused.value.code == "consent_changed"
    assert _status(db_session, w.photo, "website") == "pending"
    # Social media was not withdrawn: its approval stands and it publishes.
    assert _status(db_session, w.photo, "social_media") == "approved"
    publication = _publish(db_session, w, "social_media")
    assert {e["person_id"] for e in publication.snapshot if e["decision"] == "show"} == {
        w.obama.id, w.biden.id}
