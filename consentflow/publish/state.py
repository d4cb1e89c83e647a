"""Where a publication stands after a withdrawal: the one rule every page and export uses.

"published": live, nothing asked. "removal_pending": consent was withdrawn
and a takedown task is open; the image may still be online, so nobody may
download it "as published" again. "taken_down": every takedown task was
recorded as done (``Publication.taken_down_at``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentflow.models import Publication, TakedownTask

PUBLISHED, REMOVAL_PENDING, TAKEN_DOWN = "published", "removal_pending", "taken_down"
PUBLICATION_STATES = (PUBLISHED, REMOVAL_PENDING, TAKEN_DOWN)


@dataclass(frozen=True)
class PublicationState:
    code: str  # one of PUBLICATION_STATES
    since: datetime  # published, takedown opened, or taken down

    @property
    def live(self) -> bool:
        """Still usable as published: downloads and bundles are allowed."""
        return self.code == PUBLISHED


def publication_states(session: Session, publications: Iterable[Publication]
                       ) -> dict[int, PublicationState]:
    """The state of each publication, with one query for the open takedowns."""
    pubs = list(publications)
    ids = [p.id for p in pubs if p.taken_down_at is None]
    pending: dict[int, datetime] = {}
    if ids:
        pending = {pid: at for pid, at in session.execute(
            select(TakedownTask.publication_id, func.min(TakedownTask.created_at))
            .where(TakedownTask.publication_id.in_(ids), TakedownTask.done_at.is_(None))
            .group_by(TakedownTask.publication_id))}
    states = {}
    for p in pubs:
        if p.taken_down_at is not None:
            states[p.id] = PublicationState(TAKEN_DOWN, p.taken_down_at)
        elif p.id in pending:
            states[p.id] = PublicationState(REMOVAL_PENDING, pending[p.id])
        else:
            states[p.id] = PublicationState(PUBLISHED, p.published_at)
    return states


def publication_state(session: Session, publication: Publication) -> PublicationState:
    return publication_states(session, [publication])[publication.id]
