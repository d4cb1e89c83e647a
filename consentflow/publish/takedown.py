"""Withdrawal -> takedown (SPEC §4.7).

The consent registry emits ``PurposesWithdrawn`` in the transaction that
records the new consent; ``on_purposes_withdrawn`` runs in that same
transaction, so a withdrawal and its takedown tasks commit together or not
at all. "The internet remembers": a takedown task stays open until a PR
officer records that the image was removed where it was published.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.errors import InvalidInput, InvalidState, NotFound
from consentflow.events import PurposesWithdrawn
from consentflow.models import Photo, PhotoPurpose, Publication, TakedownTask
from consentflow.publish.takedown_mail import notify_pr_officers
from consentflow.review.rules import channel_of, medium_of, resolve_faces
from consentflow.review.service import void_unpublished_approvals

WITHDRAWAL_ACTOR = Actor.system("consent-withdrawal")


def _withdrawn(purposes: frozenset[str]) -> set[tuple[str, str]]:
    """(channel, medium) pairs withdrawn: "website.video" -> ("website", "video")."""
    return {(channel_of(p), p.rsplit(".", 1)[1]) for p in purposes
            if p.endswith((".photo", ".video"))}


def _affected(withdrawn: set[tuple[str, str]], photo: Photo, channel: str) -> bool:
    """A photo needs "<channel>.photo", a video "<channel>.video" (review.rules.medium_of)."""
    return (channel, medium_of(photo)) in withdrawn


def _shows(publication: Publication, person_id: int) -> bool:
    return any(e.get("person_id") == person_id and e.get("decision") == "show"
               for e in publication.snapshot or [])


def create_takedowns(session: Session, event: PurposesWithdrawn) -> list[TakedownTask]:
    """One open task per live publication that shows the person on a withdrawn channel.

    A video's publication is taken down when "<channel>.video" is withdrawn,
    a photo's when "<channel>.photo" is: the consent each was published on.
    """
    withdrawn = _withdrawn(event.purposes)
    channels = {channel for channel, _medium in withdrawn}
    if not channels:
        return []
    publications = session.scalars(
        select(Publication).where(
            Publication.school_id == event.school_id, Publication.purpose.in_(channels),
            Publication.taken_down_at.is_(None),
        ).order_by(Publication.id)
    )
    tasks = []
    for publication in publications:
        if not _shows(publication, event.person_id) or not _affected(
                withdrawn, publication.photo, publication.purpose):
            continue
        existing = session.scalar(select(TakedownTask.id).where(
            TakedownTask.publication_id == publication.id,
            TakedownTask.person_id == event.person_id, TakedownTask.done_at.is_(None)))
        if existing is not None:
            continue
        task = TakedownTask(
            school_id=event.school_id, publication_id=publication.id, person_id=event.person_id,
            consent_record_id=event.record_id, created_at=event.at,
            reason=f"Consent for {publication.purpose} was withdrawn.",
        )
        session.add(task)
        session.flush()
        record_event(session, actor=WITHDRAWAL_ACTOR, action="takedown.opened",
                     object_type="takedown_task", object_id=task.id, school_id=event.school_id,
                     subject_ids=[event.person_id], now=event.at,
                     details={"publication_id": publication.id, "purpose": publication.purpose,
                              "consent_record_id": event.record_id})
        tasks.append(task)
    return tasks


def send_back_unpublished(session: Session, event: PurposesWithdrawn) -> list[int]:
    """Approved photos and videos not yet published that show the person go back to review."""
    withdrawn = _withdrawn(event.purposes)
    channels = {channel for channel, _medium in withdrawn}
    if not channels:
        return []
    rows = session.execute(
        select(PhotoPurpose.photo_id, PhotoPurpose.purpose)
        .join(Photo, Photo.id == PhotoPurpose.photo_id).where(
            Photo.school_id == event.school_id, PhotoPurpose.status == "approved",
            PhotoPurpose.purpose.in_(channels),
        )
    ).all()
    photos = {photo_id: session.get(Photo, photo_id) for photo_id, _channel in rows}
    photo_ids = sorted({photo_id for photo_id, channel in rows
                        if (photo := photos[photo_id]) is not None and _affected(withdrawn, photo, channel)})
    sent = []
    for photo_id in photo_ids:
        if not any(r.person_id == event.person_id and not r.not_face
                   for r in resolve_faces(session, photo_id)):
            continue
        photo = session.get(Photo, photo_id)
        assert photo is not None
        # Only the withdrawn channels: an approval for another channel still stands.
        voided = void_unpublished_approvals(
            session, photo, "Consent of a person in this photo was withdrawn.", event.at,
            only=channels)
        if voided:
            record_event(session, actor=WITHDRAWAL_ACTOR, action="photo.sent_back",
                         object_type="photo", object_id=photo.id, school_id=event.school_id,
                         subject_ids=[event.person_id], now=event.at,
                         details={"purposes": voided, "consent_record_id": event.record_id})
            sent.append(photo.id)
    return sent


def on_purposes_withdrawn(session: Session, event: PurposesWithdrawn) -> None:
    """Subscriber for the consent registry's withdrawal event."""
    tasks = create_takedowns(session, event)
    # Same transaction: the PR officers' mail is in the outbox exactly when the tasks exist.
    notify_pr_officers(session, school_id=event.school_id, tasks=tasks, now=event.at)
    send_back_unpublished(session, event)


def complete_takedown(session: Session, *, actor: Actor, school_id: int, task_id: int,
                      note: str, now: datetime) -> TakedownTask:
    """A PR officer records that the image was removed; the publication counts as taken down."""
    task = session.get(TakedownTask, task_id)
    if task is None or task.school_id != school_id:
        raise NotFound("Takedown task not found.")
    if task.done_at is not None:
        raise InvalidState("This takedown was already recorded as done.")
    note = (note or "").strip()
    if not note:
        raise InvalidInput("Say where and how the image was removed.")
    task.done_at, task.done_by_id, task.done_note = now, actor.id, note
    publication = task.publication
    open_left = session.scalar(select(TakedownTask.id).where(
        TakedownTask.publication_id == publication.id, TakedownTask.done_at.is_(None),
        TakedownTask.id != task.id).limit(1))
    if open_left is None:
        publication.taken_down_at = now
    session.flush()
    record_event(session, actor=actor, action="takedown.done", object_type="takedown_task",
                 object_id=task.id, school_id=school_id, personal={"note": note},
                 subject_ids=[task.person_id] if task.person_id else None, now=now,
                 details={"publication_id": publication.id, "purpose": publication.purpose})
    return task


def count_open_takedowns(session: Session, school_id: int) -> int:
    """How many takedowns wait for PR in this school (the menu and start page show it)."""
    return int(session.scalar(select(func.count(TakedownTask.id)).where(
        TakedownTask.school_id == school_id, TakedownTask.done_at.is_(None))) or 0)


def open_takedowns(session: Session, school_id: int) -> list[TakedownTask]:
    return list(session.scalars(
        select(TakedownTask).where(TakedownTask.school_id == school_id,
                                   TakedownTask.done_at.is_(None))
        .order_by(TakedownTask.created_at, TakedownTask.id)
    ))


def recent_done_takedowns(session: Session, school_id: int, limit: int = 50) -> list[TakedownTask]:
    return list(session.scalars(
        select(TakedownTask).where(TakedownTask.school_id == school_id,
                                   TakedownTask.done_at.is_not(None))
        .order_by(TakedownTask.done_at.desc()).limit(limit)
    ))
