"""Download of published derivatives and the export bundle of an album (SPEC §4.6)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.errors import Gone, InvalidState, NotFound
from consentflow.models import Album, Photo, Publication
from consentflow.photos.storage import Storage
from consentflow.publish.service import get_publication
from consentflow.publish.state import publication_state, publication_states

TAKEN_DOWN_MESSAGE = ("Consent was withdrawn for this publication: it is being or has been taken "
                      "down and can no longer be downloaded.")


def derivative_filename(publication: Publication) -> str:
    kind, suffix = ("video", "mp4") if publication.video_snapshot is not None else ("photo", "jpg")
    return (f"{kind}-{publication.photo_id}-{publication.purpose}-"
            f"{publication.derivative_sha256[:8]}.{suffix}")


def download_derivative(session: Session, *, actor: Actor, school_id: int, publication_id: int,
                        storage: Storage, now: datetime) -> tuple[bytes, str]:
    """The published file, byte-identical to what the publication record hashes.

    Refused once a takedown is open or done: consent was withdrawn, so the
    file must not be handed out "as published" again.
    """
    publication = get_publication(session, school_id, publication_id)
    if not publication_state(session, publication).live:
        raise Gone(TAKEN_DOWN_MESSAGE)
    if not publication.derivative_key or not storage.exists(publication.derivative_key):
        raise InvalidState("The published file is no longer stored.")
    data = storage.read(publication.derivative_key)
    record_event(session, actor=actor, action="publication.downloaded",
                 object_type="publication", object_id=publication.id, school_id=school_id,
                 details={"sha256": publication.derivative_sha256}, now=now)
    return data, derivative_filename(publication)


def caption(publication: Publication, album: Album) -> str:
    credit = f"Photo: {publication.maker_credit}" if publication.maker_credit else ""
    return "\n".join(part for part in (album.title, album.event_date.isoformat(), credit) if part)


def album_bundle(session: Session, *, actor: Actor, school_id: int, album_id: int,
                 storage: Storage, now: datetime) -> bytes:
    """A zip of every live publication of the album: images, captions with credit, manifest.json."""
    album = session.get(Album, album_id)
    if album is None or album.school_id != school_id:
        raise NotFound("Album not found.")
    publications = list(session.scalars(
        select(Publication).join(Photo, Photo.id == Publication.photo_id)
        .where(Photo.album_id == album.id, Publication.taken_down_at.is_(None))
        .order_by(Publication.id)
    ))
    # A publication with an open takedown is on its way out: not in a bundle for publishing.
    states = publication_states(session, publications)
    publications = [p for p in publications if states[p.id].live]
    manifest = {
        "album": {"id": album.id, "title": album.title, "event_date": album.event_date.isoformat(),
                  "maker": album.maker},
        "exported_at": now.isoformat(),
        "publications": [],
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for publication in publications:
            name = derivative_filename(publication)
            if publication.derivative_key and storage.exists(publication.derivative_key):
                archive.writestr(f"images/{name}", storage.read(publication.derivative_key))
            archive.writestr(f"captions/{name[:-4]}.txt", caption(publication, album) + "\n")
            manifest["publications"].append({  # type: ignore[attr-defined]
                "id": publication.id, "file": f"images/{name}", "photo_id": publication.photo_id,
                "purpose": publication.purpose, "sha256": publication.derivative_sha256,
                "published_at": publication.published_at.isoformat(),
                "maker_credit": publication.maker_credit, "snapshot": publication.snapshot,
            })
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    subjects = sorted({e["person_id"] for p in publications for e in p.snapshot if e.get("person_id")})
    record_event(session, actor=actor, action="album.exported", object_type="album",
                 object_id=album.id, school_id=school_id, subject_ids=subjects, now=now,
                 details={"publications": [p.id for p in publications]})
    return out.getvalue()
