"""Shared setup for the review/publish/takedown/privacy tests (no tests here).

A school with a school year and form, two people (Obama and Biden, whose
real reference portraits are in tests/data/faces), an album and the real
photo two_people.jpg stored as an original with both faces detected.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from consentflow.audit.service import Actor
from consentflow.models import (
    ConsentForm,
    ConsentRecord,
    Face,
    Person,
    Photo,
    School,
    SchoolYear,
)
from consentflow.models.consent import DEFAULT_PURPOSES
from consentflow.photos.storage import LocalStorage
from tests import factories

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
OBAMA_BOX = (230, 21, 390, 231)
BIDEN_BOX = (781, 39, 951, 269)
APPROVED_AT = datetime(2026, 10, 5, 9, 0, tzinfo=timezone.utc)
PUBLISH_AT = datetime(2026, 10, 5, 15, 0, tzinfo=timezone.utc)


@dataclass
class World:
    school: School
    year: SchoolYear
    form: ConsentForm
    obama: Person
    biden: Person
    album: Any
    photo: Photo
    obama_face: Face
    biden_face: Face
    storage: LocalStorage
    user: Any
    actor: Actor


def consent(session: Any, world: World, person: Person, granted: set[str], *,
            at: datetime, school_id: int | None = None, record_id: int | None = None) -> ConsentRecord:
    """A consent record saying yes to ``granted`` and no to every other purpose."""
    record = ConsentRecord(
        id=record_id, school_id=school_id or world.school.id, person_id=person.id,
        school_year_id=world.year.id, form_id=world.form.id,
        decisions={p: p in granted for p in DEFAULT_PURPOSES},
        signer_kind="self", signer_name=person.full_name, method="paper", signed_at=at,
        recorded_at=at, evidence_sha256="0" * 64,
    )
    session.add(record)
    session.flush()
    return record


def add_photo(session: Any, world: World, name: str = "two_people.jpg", *,
              state: str = "needs_review") -> Photo:
    data = (FACES / name).read_bytes()
    key = world.storage.put(data)
    from PIL import Image

    with Image.open(FACES / name) as image:
        width, height = image.size
    import hashlib

    photo = Photo(school_id=world.school.id, album_id=world.album.id,
                  sha256=hashlib.sha256(data).hexdigest(), storage_key=key,
                  original_filename=name, media_type="image/jpeg", width=width, height=height,
                  byte_size=len(data), state=state)
    session.add(photo)
    session.flush()
    return photo


def audit_events(session: Any, action: str) -> list[Any]:
    """The audit events of one action, oldest first."""
    from sqlalchemy import select

    from consentflow.models import AuditEvent

    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                .order_by(AuditEvent.id)))


def naive_utc(moment: datetime) -> datetime:
    """UTC without its zone: SQLite gives back naive times, PostgreSQL aware ones."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def add_bare_photo(session: Any, world: World, media_type: str = "image/jpeg", *,
                   state: str = "needs_review") -> Photo:
    """A photo row of its own with no file behind it, for rules that never read pixels."""
    digest = secrets.token_hex(32)
    photo = Photo(school_id=world.school.id, album_id=world.album.id, sha256=digest,
                  storage_key=f"orig/{digest}", original_filename="event.jpg",
                  media_type=media_type, width=1000, height=800, byte_size=1000, state=state)
    session.add(photo)
    session.flush()
    return photo


def add_face(session: Any, photo: Photo, box: tuple[int, int, int, int], *,
             matched: Person | None = None, distance: float = 0.35) -> Face:
    face = Face(photo_id=photo.id, left=box[0], top=box[1], right=box[2], bottom=box[3],
                source="detector", detector="centerface+hog", score=0.99,
                match_status="matched" if matched else "unknown",
                matched_person_id=matched.id if matched else None,
                distance=distance if matched else None,
                candidates=[{"person_id": matched.id, "distance": distance}] if matched else [])
    session.add(face)
    session.flush()
    return face


def build_world(session: Any, app: Any, *, school: School | None = None) -> World:
    school = school or factories.school(session)
    year = SchoolYear(school_id=school.id, label="2026-2027", starts_on=date(2026, 8, 1),
                      ends_on=date(2027, 7, 31))
    session.add(year)
    session.flush()
    # The form exists from the first day of its year (records may carry any date of it).
    form = ConsentForm(school_id=school.id, school_year_id=year.id, version=1, title="Media",
                       wording="...", purposes=list(DEFAULT_PURPOSES),
                       created_at=datetime(2026, 8, 1, 9, tzinfo=timezone.utc))
    session.add(form)
    obama = factories.person(session, school=school, first="Barack", last="Obama",
                             dob=date(1961, 8, 4), kind="staff")
    biden = factories.person(session, school=school, first="Joe", last="Biden",
                             dob=date(1942, 11, 20), kind="staff")
    user = factories.user(session, school=school, roles=("pr",))
    album = factories.album(session, school=school, purposes=("website", "social_media"))
    storage = LocalStorage(app.config["STORAGE_DIR"])
    world = World(school=school, year=year, form=form, obama=obama, biden=biden, album=album,
                  photo=None, obama_face=None, biden_face=None, storage=storage,  # type: ignore[arg-type]
                  user=user, actor=Actor(user.id, user.email))
    world.photo = add_photo(session, world)
    world.obama_face = add_face(session, world.photo, OBAMA_BOX, matched=obama)
    world.biden_face = add_face(session, world.photo, BIDEN_BOX, matched=biden)
    return world


def confirm_both(session: Any, world: World, *, at: datetime = APPROVED_AT) -> None:
    from consentflow.review.service import record_review

    for face in (world.obama_face, world.biden_face):
        record_review(session, actor=world.actor, school_id=world.school.id, face_id=face.id,
                      kind="confirm", expected_version=None, now=at)
