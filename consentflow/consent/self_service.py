"""Self-service access (SPEC §3): what a personal link shows besides the consent form.

From their personal link a guardian, or a student of 16 or older, sees the
consent in force, the history of records, and every publication in which the
school identified the person, with where and when it was published. The
image shown is always the published derivative (the redacted file whose hash
the publication records), never the original.

Who may look is the signer rule applied to reading: a guardian's link shows
the child's data while the child is under 16 and the guardian is still
linked to the child; from 16 the student's own link does (staff: always
their own link). A guardian's link of a student who turned 16 is refused, on
the consent page too: from the 16th birthday it shows nothing of the
student's choices (``check_guardian_link``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.consent.effective import allows, effective_records
from consentflow.consent.purposes import purpose_label
from consentflow.consent.signer import local_date, signs_for_self
from consentflow.errors import DomainError, NotFound, SignerRuleViolation
from consentflow.labels import CHANNEL_LABELS, LABELS
from consentflow.models import Album, ConsentLink, ConsentRecord, Photo, Publication
from consentflow.photos.storage import Storage
from consentflow.publish.state import REMOVAL_PENDING, publication_states

METHOD_LABELS = LABELS["method"]


class OverviewRefused(DomainError):
    """This link may answer the consent form but not show the overview."""

    status_code = 403

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # adult | unlinked | not_allowed


def check_guardian_link(link: ConsentLink, today: date) -> None:
    """From the student's 16th birthday a guardian's link shows and changes nothing of their choices.

    The signer rule applied to reading: the student decides, so the student's
    answers are theirs alone. An unknown date of birth refuses too (deny by
    default: nobody can tell whether the student is 16).
    """
    if link.guardian_id is None:
        return
    try:
        adult = signs_for_self(link.person, today)
    except SignerRuleViolation:
        raise OverviewRefused("not_allowed") from None
    if adult:
        raise OverviewRefused("adult")


def check_access(link: ConsentLink, today: date) -> None:
    """Refuse a link that may not see the person's data today (see the module docstring)."""
    person = link.person
    check_guardian_link(link, today)
    if link.guardian_id is None:
        try:
            adult = signs_for_self(person, today)
        except SignerRuleViolation:
            raise OverviewRefused("not_allowed") from None
        if not adult:
            raise OverviewRefused("not_allowed")
        return
    if link.guardian is None or person.id not in {c.id for c in link.guardian.children}:
        raise OverviewRefused("unlinked")


@dataclass(frozen=True)
class Answer:
    key: str
    label: str
    allowed: bool


@dataclass(frozen=True)
class OnFile:
    record_id: int
    school_year: str
    signed_on: date
    signer: str
    method: str
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class HistoryEntry:
    record_id: int
    school_year: str
    signed_on: date
    signer: str
    method: str
    first: bool
    # (purpose label, new answer) for every purpose whose answer this record changed.
    changes: tuple[tuple[str, bool], ...]
    yes: tuple[str, ...]
    no: tuple[str, ...]


@dataclass(frozen=True)
class PublishedImage:
    publication_id: int
    channel: str
    where: str
    published_on: date
    maker_credit: str
    event: str
    event_date: date | None
    shown: bool  # False: the person is in the photo but was blurred
    taken_down_on: date | None
    removal_pending: bool  # consent was withdrawn; the school has not yet recorded the removal


@dataclass(frozen=True)
class Overview:
    person_name: str
    for_self: bool
    on_file: OnFile | None
    history: tuple[HistoryEntry, ...]
    publications: tuple[PublishedImage, ...]


def _signer(record: ConsentRecord) -> str:
    return record.signer_name or (record.person.full_name if record.signer_kind == "self" else "")


def _answers(record: ConsentRecord) -> tuple[Answer, ...]:
    keys = list(dict.fromkeys([*record.form.purposes, *record.decisions]))
    return tuple(Answer(k, purpose_label(k), allows(record, k)) for k in keys)


def _history(session: Session, person_id: int) -> tuple[HistoryEntry, ...]:
    records = list(session.scalars(select(ConsentRecord).where(ConsentRecord.person_id == person_id)
                                   .order_by(ConsentRecord.id)))
    by_id = {r.id: r for r in records}
    entries = []
    for record in records:
        before = by_id.get(record.supersedes_id) if record.supersedes_id else None
        answers = _answers(record)
        changes = () if before is None else tuple(
            (a.label, a.allowed) for a in answers if allows(before, a.key) != a.allowed)
        entries.append(HistoryEntry(
            record_id=record.id, school_year=record.school_year.label,
            signed_on=local_date(record.signed_at), signer=_signer(record),
            method=str(METHOD_LABELS.get(record.method, record.method)), first=before is None,
            changes=changes, yes=tuple(a.label for a in answers if a.allowed),
            no=tuple(a.label for a in answers if not a.allowed)))
    entries.reverse()  # newest first
    return tuple(entries)


def _appearance(publication: Publication, person_id: int) -> bool | None:
    """True: shown; False: in the photo but blurred; None: not identified in it."""
    mine = [e for e in publication.snapshot or [] if e.get("person_id") == person_id]
    if not mine:
        return None
    return any(e.get("decision") == "show" for e in mine)


def _publications(session: Session, link: ConsentLink) -> tuple[PublishedImage, ...]:
    rows = session.execute(
        select(Publication, Album).join(Photo, Photo.id == Publication.photo_id)
        .join(Album, Album.id == Photo.album_id)
        .where(Publication.school_id == link.school_id)
        .order_by(Publication.published_at.desc(), Publication.id.desc())).all()
    states = publication_states(session, [publication for publication, _album in rows])
    found = []
    for publication, album in rows:
        shown = _appearance(publication, link.person_id)
        if shown is None:
            continue
        found.append(PublishedImage(
            publication_id=publication.id,
            channel=str(CHANNEL_LABELS.get(publication.purpose, publication.purpose)),
            where=publication.channel_note or "", published_on=local_date(publication.published_at),
            maker_credit=publication.maker_credit, event=album.title, event_date=album.event_date,
            shown=shown,
            taken_down_on=local_date(publication.taken_down_at) if publication.taken_down_at
            else None,
            removal_pending=states[publication.id].code == REMOVAL_PENDING))
    return tuple(found)


def view_overview(session: Session, *, link: ConsentLink, now: datetime) -> Overview:
    """The overview for a usable link (resolve it first), audited as a view of the person's data."""
    today = local_date(now)
    check_access(link, today)
    person = link.person
    record = effective_records(session, [person.id], today).get(person.id)
    on_file = None if record is None else OnFile(
        record_id=record.id, school_year=record.school_year.label,
        signed_on=local_date(record.signed_at), signer=_signer(record),
        method=str(METHOD_LABELS.get(record.method, record.method)), answers=_answers(record))
    overview = Overview(person_name=person.full_name, for_self=link.guardian_id is None,
                        on_file=on_file, history=_history(session, person.id),
                        publications=_publications(session, link))
    record_event(session, actor=Actor.system(f"consent-link:{link.id}"),
                 action="consent.self_service_view", object_type="consent_link",
                 object_id=link.id, school_id=link.school_id, subject_ids=[person.id], now=now,
                 details={"publications": [p.publication_id for p in overview.publications],
                          "by": "self" if link.guardian_id is None else "guardian"})
    return overview


def published_image(session: Session, *, link: ConsentLink, publication_id: int, storage: Storage,
                    now: datetime) -> bytes:
    """The published derivative of a publication that identifies this link's person; else NotFound.

    The bytes are checked against the hash in the publication record, so
    nothing but the file that was published can leave through this route.
    """
    check_access(link, local_date(now))
    publication = session.get(Publication, publication_id)
    if (publication is None or publication.school_id != link.school_id
            or _appearance(publication, link.person_id) is None
            or not publication.derivative_key or not storage.exists(publication.derivative_key)):
        raise NotFound("Image not found.")
    data = storage.read(publication.derivative_key)
    if hashlib.sha256(data).hexdigest() != publication.derivative_sha256:
        raise NotFound("Image not found.")
    return data
