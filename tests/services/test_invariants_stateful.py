"""Privacy invariants under random sequences of the real use cases (hypothesis state machine).

Upload, process (real detection and matching on real photos), give and
withdraw consent, review, approve, publish, erase and reprocess, called
through the services in any order hypothesis picks. After every step:

- every publication's snapshot names, for each person shown, the consent
  record that was in force when it was published, and that record allows
  the purpose;
- every live publication showing someone whose consent for its purpose is
  gone has an open takedown for that person;
- an erased person has no reference face and no face encoding left;
- each transition wrote exactly one audit event of its kind (a refused one
  none), and the hash chain verifies.

Each example starts a new school (real enrolment of two reference portraits),
so examples do not see each other's data. Few, short examples: every step
runs dlib.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from consentflow.audit.service import Actor, verify_chain
from consentflow.consent.service import record_consent
from consentflow.consent.years import create_form_version, ensure_school_year
from consentflow.errors import DomainError
from consentflow.faces.matching import MatchThresholds
from consentflow.jobs import get_queue
from consentflow.models import (
    AuditEvent,
    ConsentRecord,
    Face,
    FaceReview,
    Person,
    Photo,
    Publication,
    TakedownTask,
    utcnow,
)
from consentflow.models.consent import DEFAULT_PURPOSES
from consentflow.photos import service as photos
from consentflow.photos.crypto import cipher_from_config
from consentflow.photos.storage import LocalStorage
from consentflow.photos.tasks import engine_settings
from consentflow.privacy.service import erase_person, remaining_encodings
from consentflow.publish.service import approve_purpose, publish_photo
from consentflow.review.service import record_review
from tests import factories
from tests.jobs.photo_helpers import enrol, face_bytes, run_jobs

pytestmark = [pytest.mark.slow]

PHOTOS = ("two_people.jpg", "obama.jpg", "biden.jpg")
CHANNELS = ("website", "social_media")
PURPOSE = {"website": "website.photo", "social_media": "social_media.photo"}
MACHINE_SETTINGS = settings(max_examples=5, stateful_step_count=10, deadline=None, database=None,
                            suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture])


class PrivacyMachine(RuleBasedStateMachine):
    """One school, two enrolled staff members (Obama, Biden), one album."""

    app: Flask
    session: Any

    photos = Bundle("photos")

    def __init__(self) -> None:
        super().__init__()
        session = self.session
        # The queue outlives an example: jobs a previous example left are dropped.
        get_queue(self.app).huey.flush()
        self.clock = utcnow()
        self.school = factories.school(session, biometric_mode="all")
        user = factories.user(session, school=self.school, roles=("pr", "admin"))
        self.actor = Actor(user.id, user.email)
        self.people = {
            "obama": factories.person(session, school=self.school, first="Barack", last="Obama",
                                      kind="staff", dob=datetime(1961, 8, 4).date()),
            "biden": factories.person(session, school=self.school, first="Joe", last="Biden",
                                      kind="staff", dob=datetime(1942, 11, 20).date()),
        }
        enrol(self.app, session, self.school, self.people["obama"], "obama.jpg")
        enrol(self.app, session, self.school, self.people["biden"], "biden.jpg")
        self.year = ensure_school_year(session, actor=self.actor, school_id=self.school.id,
                                       on=self.clock.date(), now=self.clock)
        self.form = create_form_version(
            session, actor=self.actor, school_id=self.school.id, school_year_id=self.year.id,
            title="Media", wording="...", purposes=list(DEFAULT_PURPOSES),
            now=self.clock - timedelta(days=1))
        self.album = factories.album(session, school=self.school, created_by=user,
                                     purposes=CHANNELS)
        self.storage = LocalStorage(self.app.config["STORAGE_DIR"])
        self.uploaded: set[str] = set()
        self.erased: set[int] = set()
        session.commit()
        self.seen_events = self._event_count()

    # --- helpers ---------------------------------------------------------------

    def _now(self) -> datetime:
        """A clock that moves on with every step, so records and publications are ordered."""
        self.clock = max(self.clock + timedelta(seconds=1), utcnow())
        return self.clock

    def _event_count(self) -> int:
        return self.session.scalar(select(func.max(AuditEvent.id))) or 0

    def _new_actions(self) -> list[str]:
        rows = self.session.scalars(select(AuditEvent.action).where(
            AuditEvent.id > self.seen_events).order_by(AuditEvent.id)).all()
        self.seen_events = self._event_count()
        return list(rows)

    def _transition(self, action: str, call: Any) -> Any:
        """Run one use case in its own unit of work; exactly one ``action`` event if it happened."""
        try:
            result = call()
        except DomainError:
            self.session.rollback()
            assert action not in self._new_actions(), f"a refused {action} was audited"
            return None
        self.session.commit()
        actions = self._new_actions()
        assert actions.count(action) == 1, f"{action}: audit events {actions}"
        return result

    def _person(self, name: str) -> Person:
        return self.people[name]

    # --- rules -----------------------------------------------------------------

    @initialize(target=photos)
    def first_photo(self) -> Any:
        """Start from a published photo: processed, reviewed, both consented, approved and
        published on the website, and Biden withdrawing the website afterwards, so the
        random steps act on a live publication and an open takedown."""
        photo_id = self.upload("two_people.jpg")
        self.process()
        self.review(photo_id)
        for name in self.people:
            self.consent(name, set(PURPOSE.values()))
        self.approve(photo_id, "website", publish=True)
        assert self.session.scalar(select(func.count()).select_from(Publication).where(
            Publication.photo_id == photo_id)) == 1
        self.withdraw_website("biden")
        return photo_id

    @precondition(lambda self: len(self.uploaded) < 2)
    @rule(target=photos, name=st.sampled_from(PHOTOS))
    def upload(self, name: str) -> Any:
        if name in self.uploaded:
            return None
        self.uploaded.add(name)
        results = self._transition("photo.upload", lambda: photos.upload_photos(
            self.session, self.storage, self.actor, self.album, [(name, face_bytes(name))],
            now=self._now()))
        from consentflow.jobs import enqueue

        (result,) = results
        assert result.status == "accepted"
        enqueue("process_photo", result.photo_id)
        return result.photo_id

    @rule()
    def process(self) -> None:
        pending = self.session.scalar(select(func.count()).select_from(Photo).where(
            Photo.school_id == self.school.id, Photo.state == "uploaded"))
        run_jobs(self.app)
        actions = self._new_actions()
        assert actions.count("photo.processed") == pending, actions

    @rule(name=st.sampled_from(["obama", "biden"]),
          grants=st.sets(st.sampled_from(sorted(PURPOSE.values()))))
    def consent(self, name: str, grants: set[str]) -> None:
        person = self._person(name)
        if person.id in self.erased:
            return
        at = self._now()
        self._transition("consent.record", lambda: record_consent(
            self.session, actor=self.actor, person_id=person.id, school_year_id=self.year.id,
            form_id=self.form.id, decisions={p: p in grants for p in DEFAULT_PURPOSES},
            signer_kind="self", signer_guardian_id=None, signer_name=None, method="in_person",
            signed_at=at, evidence=None, evidence_filename=None,
            storage_dir=self.app.config["STORAGE_DIR"], now=at))

    @rule(name=st.sampled_from(["obama", "biden"]))
    def withdraw_website(self, name: str) -> None:
        """The withdrawal the live publication is about (consent for social media stays)."""
        self.consent(name, {PURPOSE["social_media"]})

    @rule(photo_id=photos)
    def review(self, photo_id: Any) -> None:
        if photo_id is None:
            return
        reviewed = set(self.session.scalars(select(FaceReview.face_id).where(
            FaceReview.photo_id == photo_id)))
        for face in self.session.scalars(select(Face).where(Face.photo_id == photo_id)):
            if face.id in reviewed:
                continue
            kind = "confirm" if face.matched_person_id is not None else "not_person"
            photo = self.session.get(Photo, photo_id)
            self._transition(f"face.{kind}", lambda f=face, k=kind, p=photo: record_review(
                                 self.session, actor=self.actor, school_id=self.school.id,
                                 face_id=f.id, kind=k, expected_version=p.version,
                                 now=self._now()))

    @rule(photo_id=photos, channel=st.sampled_from(CHANNELS), publish=st.booleans())
    def approve(self, photo_id: Any, channel: str, publish: bool) -> None:
        """Approve for a channel, and (mostly) publish right after, as PR does."""
        if photo_id is None:
            return
        self._transition_any(("photo.approved", "photo.auto_blocked"), lambda: approve_purpose(
            self.session, actor=self.actor, school_id=self.school.id, photo_id=photo_id,
            channel=channel, expected_version=None, now=self._now()))
        if publish:
            self.publish(photo_id, channel)

    @rule(photo_id=photos, channel=st.sampled_from(CHANNELS))
    def publish(self, photo_id: Any, channel: str) -> None:
        if photo_id is None:
            return
        self._transition_any(("photo.published", "photo.publication_refused", "photo.sent_back"),
                             lambda: publish_photo(
                                 self.session, actor=self.actor, school_id=self.school.id,
                                 photo_id=photo_id, channel=channel, storage=self.storage,
                                 now=self._now(), tolerance=MatchThresholds.defaults().loose,
                                 cipher=cipher_from_config(self.app.config),
                                 settings=engine_settings()))

    @rule(name=st.sampled_from(["obama", "biden"]))
    def erase(self, name: str) -> None:
        person = self._person(name)
        if person.id in self.erased:
            return
        self._transition("person.erased", lambda: erase_person(
            self.session, actor=self.actor, school_id=self.school.id, person_id=person.id,
            now=self._now(), storage=self.storage))
        self.erased.add(person.id)

    @rule(photo_id=photos)
    def reprocess(self, photo_id: Any) -> None:
        if photo_id is None:
            return
        photo = self.session.get(Photo, photo_id)
        self._transition("photo.reprocess", lambda: photos.reprocess_photo(
            self.session, self.actor, photo, now=self._now()))

    def _transition_any(self, actions: tuple[str, ...], call: Any) -> None:
        """A use case whose outcome is one of several audited transitions (exactly one of them)."""
        try:
            call()
        except DomainError:
            self.session.rollback()
            assert not set(actions) & set(self._new_actions()), "a refused transition was audited"
            return
        self.session.commit()
        happened = [a for a in self._new_actions() if a in actions]
        assert len(happened) == 1, f"expected one of {actions}, got {happened}"

    def teardown(self) -> None:
        school = Publication.school_id == self.school.id
        REACHED["publications"] += self.session.scalar(select(func.count()).select_from(Publication)
                                                        .where(school)) or 0
        REACHED["takedowns"] += self.session.scalar(select(func.count()).select_from(TakedownTask)
                                                     .where(TakedownTask.school_id == self.school.id)) or 0
        REACHED["erasures"] += len(self.erased)

    # --- invariants ----------------------------------------------------------

    @invariant()
    def publications_name_consent_in_force(self) -> None:
        for pub in self.session.scalars(select(Publication).where(
                Publication.school_id == self.school.id)):
            for entry in pub.snapshot:
                if entry["decision"] != "show" or entry["person_id"] is None:
                    continue
                record = self.session.get(ConsentRecord, entry["consent_record_id"])
                assert record is not None, f"publication {pub.id} shows {entry['name']} without a record"
                assert record.decisions.get(PURPOSE[pub.purpose]) is True, (pub.id, record.decisions)
                in_force = self.session.scalar(
                    select(func.max(ConsentRecord.id)).where(
                        ConsentRecord.person_id == entry["person_id"],
                        ConsentRecord.recorded_at <= pub.published_at))
                assert in_force == record.id, (
                    f"publication {pub.id} names record {record.id}, in force was {in_force}")

    @invariant()
    def withdrawals_have_takedowns(self) -> None:
        from consentflow.consent.effective import effective_record

        for pub in self.session.scalars(select(Publication).where(
                Publication.school_id == self.school.id, Publication.taken_down_at.is_(None))):
            for entry in pub.snapshot:
                if entry["decision"] != "show" or entry["person_id"] is None:
                    continue
                key = PURPOSE[pub.purpose]
                current = effective_record(self.session, entry["person_id"], key, self.clock.date())
                if current is not None and current.decisions.get(key) is True:
                    continue
                task = self.session.scalar(select(TakedownTask).where(
                    TakedownTask.publication_id == pub.id,
                    TakedownTask.person_id == entry["person_id"]))
                assert task is not None, f"publication {pub.id}: consent gone, no takedown"

    @invariant()
    def erasure_leaves_no_encodings(self) -> None:
        for person_id in self.erased:
            assert remaining_encodings(self.session, self.school.id, person_id) == 0

    @invariant()
    def chain_verifies(self) -> None:
        assert verify_chain(self.session).ok


REACHED = {"publications": 0, "takedowns": 0, "erasures": 0}


def test_privacy_invariants_hold_under_random_sequences(app: Flask, db_session: Any) -> None:
    PrivacyMachine.app = app
    PrivacyMachine.session = db_session
    run_state_machine_as_test(PrivacyMachine, settings=MACHINE_SETTINGS)
    # The runs reached the states the invariants are about (the start guarantees
    # one publication and one takedown per example; the rest is the random walk's).
    assert REACHED["publications"] >= MACHINE_SETTINGS.max_examples, REACHED
    assert REACHED["takedowns"] >= MACHINE_SETTINGS.max_examples, REACHED
