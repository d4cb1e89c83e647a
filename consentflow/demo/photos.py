"""Demo reference portraits and a demo album (images: consentflow/demo/data/SOURCES.md).

Idempotent: portraits are enrolled once per person, the album is created
once. Photos are queued for the worker (``make run`` starts one).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor
from consentflow.errors import DomainError
from consentflow.jobs import enqueue
from consentflow.models import Album, Person, ReferenceFace, School, User, utcnow
from consentflow.photos import service
from consentflow.photos.crypto import cipher_from_config
from consentflow.photos.enrol import enrol_portrait
from consentflow.photos.storage import storage_from_config
from consentflow.photos.tasks import engine_settings

DATA = Path(__file__).resolve().parent / "data"
PORTRAITS = {
    "100001": ("obama.jpg", "obama3.jpg"),
    "100002": ("biden.jpg",),
    "100003": ("lin-manuel-miranda.png",),
    "100004": ("Tom_Cruise_avp_2014_4.jpg",),
}
ALBUM_TITLE = "Open dag"
ALBUM_PHOTOS = ("obama2.jpg", "two_people.jpg", "bald_guys.jpg")


def load_demo_photos(session: Session, school: School, actor: Actor) -> list[str]:
    """Enrol the demo portraits and create the demo album; returns what was skipped and why."""
    config = current_app.config
    notes: list[str] = []
    cipher = cipher_from_config(config)
    today = utcnow().date()
    for number, files in PORTRAITS.items():
        person = session.scalar(select(Person).where(Person.school_id == school.id,
                                                     Person.external_id == number))
        if person is None:
            continue
        if session.scalar(select(ReferenceFace.id).where(ReferenceFace.person_id == person.id)):
            continue
        for name in files:
            try:
                # Refusals are raised before anything is written: nothing to undo.
                enrol_portrait(session, cipher, actor, school, person,
                               (DATA / name).read_bytes(), settings=engine_settings(),
                               today=today, now=utcnow())
            except DomainError as err:
                notes.append(f"{number} {name}: {err.message}")
    if session.scalar(select(Album.id).where(Album.school_id == school.id,
                                             Album.title == ALBUM_TITLE)) is None:
        teacher = session.scalar(select(User).where(User.email == "teacher@demo.school"))
        maker = Actor(teacher.id, teacher.email) if teacher else actor
        album = service.create_album(
            session, maker, school.id, title=ALBUM_TITLE, event_date=date(today.year, 1, 25),
            description="Rondleiding en presentaties.", maker="J. Fotograaf",
            purposes=["website", "newsletter"], now=utcnow())
        uploads = [(name, (DATA / name).read_bytes()) for name in ALBUM_PHOTOS]
        results = service.upload_photos(session, storage_from_config(config), maker, album, uploads,
                                        now=utcnow())
        # The job waits (retries) until this transaction is committed.
        for result in results:
            if result.photo_id is not None and result.status == "accepted":
                enqueue("process_photo", result.photo_id)
    return notes
