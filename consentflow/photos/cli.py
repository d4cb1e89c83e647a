"""``flask faces ...`` and ``flask photos ...``: scripting, measurement, repair."""

from __future__ import annotations

import json
import os
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.errors import DomainError
from consentflow.extensions import db
from consentflow.faces.engine import detect_file
from consentflow.jobs import enqueue, get_queue
from consentflow.models import Person, School, utcnow
from consentflow.photos import service
from consentflow.photos.crypto import cipher_from_config
from consentflow.photos.enrol import EnrolOutcome, enrol_portrait
from consentflow.photos.imaging import Limits
from consentflow.photos.rematch import requeue_photos
from consentflow.photos.tasks import engine_settings, requeue_stale

faces_cli = AppGroup("faces", help="Face engine: detection for scripting, portrait enrolment.")
photos_cli = AppGroup("photos", help="Photo pipeline maintenance.")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"}
# "100001.jpg" or "100001_2.jpg": the student number, optionally a portrait counter.
PORTRAIT_NAME = re.compile(r"^(?P<number>[A-Za-z0-9-]+?)(?:_\d+)?$")


@faces_cli.command("detect")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (a list per file).")
def faces_detect(files: tuple[str, ...], as_json: bool) -> None:
    """Boxes (left, top, right, bottom, original pixels), settings and ms, per file.

    Runs the engine's ``detect_file``: exactly the pipeline's detection code.
    """
    settings = engine_settings()
    results: list[dict[str, object]] = []
    for path in files:
        try:
            results.append(detect_file(path, settings))
        except Exception as err:  # one unreadable file must not hide the others' results
            results.append({"file": path, "error": f"{type(err).__name__}: {err}"})
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    for item in results:
        if "error" in item:
            click.echo(f"{item['file']}: ERROR {item['error']}")
            continue
        faces = item["faces"]
        assert isinstance(faces, list)
        click.echo(f"{item['file']}: {len(faces)} face(s) in {item['ms']} ms")
        for face in faces:
            click.echo(f"  {face['left']},{face['top']},{face['right']},{face['bottom']} "
                       f"score={face['score']} {face['detector']}")


def _portraits(source: str, max_bytes: int) -> Iterator[tuple[str, bytes | None]]:
    """(name, bytes) per image in a folder or zip; None for an entry that is too large."""
    if os.path.isdir(source):
        for path in sorted(Path(source).iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                yield path.name, (path.read_bytes() if path.stat().st_size <= max_bytes else None)
        return
    with zipfile.ZipFile(source) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            name = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
            if info.is_dir() or name.startswith(".") or Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            # Never extracted to disk; the declared size is checked before reading (zip bombs).
            if info.file_size > max_bytes:
                yield name, None
                continue
            with archive.open(info) as fh:
                data = fh.read(max_bytes + 1)
            yield name, data if len(data) <= max_bytes else None


@faces_cli.command("enrol")
@click.argument("source", type=click.Path(exists=True))
@click.option("--school", "school_slug", required=True, help="School slug.")
def faces_enrol(source: str, school_slug: str) -> None:
    """Enrol portraits named by student number (100001.jpg, 100001_2.jpg) from a folder or zip."""
    school = db.session.scalar(select(School).where(School.slug == school_slug))
    if school is None:
        click.echo(f"Error: no school with slug {school_slug!r}.", err=True)
        sys.exit(1)
    cfg = current_app.config
    limits = Limits(int(cfg["UPLOAD_MAX_BYTES"]), int(cfg["UPLOAD_MAX_PIXELS"]))
    cipher = cipher_from_config(cfg)
    settings = engine_settings()
    actor = Actor.system("cli")
    outcomes: list[EnrolOutcome] = []
    for name, data in _portraits(source, limits.max_bytes):
        match = PORTRAIT_NAME.match(Path(name).stem)
        person = None if match is None else db.session.scalar(select(Person).where(
            Person.school_id == school.id, Person.external_id == match.group("number")))
        if data is None:
            outcomes.append(EnrolOutcome(name, False, "file too large"))
            continue
        if person is None:
            outcomes.append(EnrolOutcome(name, False, "no person with this student number"))
            continue
        try:
            ref = enrol_portrait(db.session, cipher, actor, school, person, data,
                                 settings=settings, today=utcnow().date(), now=utcnow(),
                                 limits=limits)
        except DomainError as err:
            db.session.rollback()
            outcomes.append(EnrolOutcome(name, False, err.message, person.id))
            continue
        db.session.commit()  # one portrait per unit of work: a bad one loses nothing else
        outcomes.append(EnrolOutcome(name, True, "enrolled", person.id, ref.id))
    for o in outcomes:
        click.echo(f"{'OK  ' if o.ok else 'FAIL'} {o.label}: {o.message}")
    ok = sum(1 for o in outcomes if o.ok)
    click.echo(f"{ok} enrolled, {len(outcomes) - ok} rejected.")
    if outcomes and ok == 0:
        sys.exit(1)


@photos_cli.command("reprocess")
@click.option("--album", "album_id", type=int, default=None)
@click.option("--photo", "photo_id", type=int, default=None)
@click.option("--failed", "failed_only", is_flag=True, help="Only photos that failed.")
@click.option("--stale", is_flag=True, help="Only re-queue photos whose worker vanished.")
@click.option("--run", "run_now", is_flag=True, help="Process here instead of by a worker.")
def photos_reprocess(album_id: int | None, photo_id: int | None, failed_only: bool, stale: bool,
                     run_now: bool) -> None:
    """Queue photos for processing again (reviewer decisions are kept)."""
    if stale:
        count = requeue_stale(album_id)
        db.session.commit()
        click.echo(f"{count} stale photo(s) queued again.")
    else:
        if album_id is None and photo_id is None and not failed_only:
            click.echo("Error: name --album, --photo, --failed or --stale.", err=True)
            sys.exit(2)
        photos = service.photos_to_reprocess(db.session, album_id=album_id, photo_id=photo_id,
                                             failed_only=failed_only)
        ids = requeue_photos(db.session, Actor.system("cli"), photos, now=utcnow(), reason="cli")
        db.session.commit()
        for photo_id in ids:
            enqueue("process_photo", photo_id)
        click.echo(f"{len(ids)} photo(s) queued again.")
    if run_now:
        done = get_queue().run_pending()
        click.echo(f"{done} job(s) run.")
