"""Helpers shared by the photo pipeline tests (real database, real images, real dlib)."""

from __future__ import annotations

import io
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from flask import Flask
from PIL import Image
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.models import ConsentForm, ConsentRecord, Face, Person, Photo, SchoolYear
from consentflow.photos import service
from consentflow.photos.crypto import cipher_from_config
from consentflow.photos.enrol import enrol_portrait
from consentflow.photos.storage import storage_from_config
from consentflow.photos.tasks import engine_settings

DATA = Path(__file__).resolve().parents[1] / "data"
FACES = DATA / "faces"
BAD = DATA / "bad"
TODAY = datetime.now(timezone.utc).date()
NOW = datetime.now(timezone.utc)
ACTOR = Actor.system("test")


def face_bytes(name: str) -> bytes:
    return (FACES / name).read_bytes()


def side_by_side(*names: str) -> bytes:
    """One JPEG with the given images next to each other (same height)."""
    images = [Image.open(FACES / n).convert("RGB") for n in names]
    height = min(i.height for i in images)
    images = [i.resize((round(i.width * height / i.height), height)) for i in images]
    canvas = Image.new("RGB", (sum(i.width for i in images), height), "white")
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def school_year(session: Any, school_id: int, on: date = TODAY) -> SchoolYear:
    start = date(on.year if on.month >= 8 else on.year - 1, 8, 1)
    year = session.scalar(select(SchoolYear).where(SchoolYear.school_id == school_id,
                                                   SchoolYear.starts_on == start))
    if year is None:
        year = SchoolYear(school_id=school_id, label=f"{start.year}-{start.year + 1}",
                          starts_on=start, ends_on=date(start.year + 1, 7, 31))
        session.add(year)
        session.flush()
    return year


def give_consent(session: Any, person: Person, decisions: dict[str, bool]) -> ConsentRecord:
    """A real consent record (paper form, signed by the person) for this school year."""
    year = school_year(session, person.school_id)
    form = session.scalar(select(ConsentForm).where(ConsentForm.school_year_id == year.id))
    if form is None:
        form = ConsentForm(school_id=person.school_id, school_year_id=year.id, version=1,
                           title="Media", wording="...", purposes=sorted(decisions))
        session.add(form)
        session.flush()
    previous = session.scalar(select(ConsentRecord.id).where(ConsentRecord.person_id == person.id)
                              .order_by(ConsentRecord.id.desc()).limit(1))
    record = ConsentRecord(school_id=person.school_id, person_id=person.id,
                           school_year_id=year.id, form_id=form.id, decisions=dict(decisions),
                           signer_kind="self", signer_name=person.full_name, method="paper",
                           signed_at=NOW, supersedes_id=previous)
    session.add(record)
    session.flush()
    return record


def enrol(app: Flask, session: Any, school: Any, person: Person, name: str) -> Any:
    return enrol_portrait(session, cipher_from_config(app.config), ACTOR, school, person,
                          face_bytes(name), settings=engine_settings(), today=TODAY, now=NOW)


def upload(app: Flask, session: Any, album: Any, files: list[tuple[str, bytes]]) -> list[Any]:
    """Upload like the web view does: service, commit, then enqueue the accepted photos."""
    from consentflow.jobs import enqueue

    results = service.upload_photos(session, storage_from_config(app.config), ACTOR, album, files,
                                    now=NOW)
    session.commit()
    for r in results:
        if r.status == "accepted":
            enqueue("process_photo", r.photo_id)
    return results


def run_jobs(app: Flask) -> int:
    from consentflow.extensions import db
    from consentflow.jobs import get_queue

    done = get_queue(app).run_pending()
    db.session.expire_all()
    return done


def faces_of(session: Any, photo_id: int) -> list[Face]:
    return list(session.scalars(select(Face).where(Face.photo_id == photo_id)
                                .order_by(Face.left)))


def photo(session: Any, photo_id: int) -> Photo:
    obj = session.get(Photo, photo_id)
    session.refresh(obj)
    return obj
