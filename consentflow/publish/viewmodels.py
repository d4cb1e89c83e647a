"""Finished values for the publication templates (no logic in templates)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.labels import LABELS, label, snapshot_name
from consentflow.models import Photo, Publication, TakedownTask, User
from consentflow.publish.state import publication_states
from consentflow.review.rules import people_names


def _user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: u.name for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def album_publications(session: Session, album_id: int) -> list[dict[str, Any]]:
    pubs = list(session.scalars(
        select(Publication).join(Photo, Photo.id == Publication.photo_id)
        .where(Photo.album_id == album_id).order_by(Publication.published_at.desc())
    ))
    users = _user_names(session, {p.published_by_id for p in pubs})
    states = publication_states(session, pubs)
    return [{
        "publication": p,
        "published_by": users.get(p.published_by_id or 0, ""),
        "shown": sum(1 for e in p.snapshot if e.get("decision") == "show"),
        "blurred": sum(1 for e in p.snapshot if e.get("decision") != "show"),
        "state": states[p.id],
    } for p in pubs]


def takedown_rows(session: Session, tasks: list[TakedownTask]) -> list[dict[str, Any]]:
    names = people_names(session, [t.person_id for t in tasks if t.person_id])
    users = _user_names(session, {t.publication.published_by_id for t in tasks}
                        | {t.done_by_id for t in tasks})
    return [{
        "task": t,
        "publication": t.publication,
        "photo": t.publication.photo,
        "album": t.publication.photo.album,
        "person": names.get(t.person_id or 0, ""),
        "published_by": users.get(t.publication.published_by_id or 0, ""),
        "done_by": users.get(t.done_by_id or 0, ""),
        # Said again in the reader's language (the stored reason is the audit's English).
        "reason": _l("Consent for %(channel)s was withdrawn.",
                     channel=label(t.publication.purpose, "channel")),
    } for t in tasks]


def snapshot_rows(publication: Publication) -> list[dict[str, Any]]:
    """The consent snapshot as the publication page shows it: names and decisions in words."""
    return [{
        "name": snapshot_name(e.get("name")),
        "decision": label(e.get("decision") or "", "decision"),
        "basis": str(LABELS["decision_basis"].get(e.get("basis") or "", "")),
        "consent_record_id": e.get("consent_record_id"),
    } for e in publication.snapshot or []]
