"""Writing and verifying audit events.

``record_event`` adds the event to the caller's session: it commits with the
change it records, or not at all. After each commit the chain head is
written to a file outside the database (SPEC §7).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from consentflow.audit.chain import (
    CURRENT_HASH_VERSION,
    GENESIS,
    HASH_VERSIONS,
    EventFields,
    commit_value,
    erase_value,
    event_hash,
    personal_problem,
)
from consentflow.models import AuditEvent, utcnow

_ADVISORY_LOCK_KEY = 7_041_551  # any constant shared by all writers
HEAD_INFO_KEY = "consentflow.audit_head"


@dataclass(frozen=True)
class Actor:
    """Who did something: a user, or the system (CLI, worker, public link)."""

    id: int | None
    label: str

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(None, label)


def _lock_chain(session: Session) -> None:
    """Serialise appends so two transactions never chain onto the same head.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a no-op write
    takes the database write lock now (waiting up to busy_timeout), so the
    head read below cannot go stale before our insert.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    elif dialect == "sqlite":
        session.execute(text("UPDATE audit_event SET id = id WHERE 1 = 0"))


def _last_hash(session: Session) -> str:
    _lock_chain(session)
    last = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return last or GENESIS


def record_event(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object | None = None,
    school_id: int | None = None,
    details: dict[str, Any] | None = None,
    personal: dict[str, Any] | None = None,
    subject_ids: list[int] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append an audit event in the current transaction.

    Names, e-mail addresses and other personal values go in ``personal``
    (committed, erasable), never in ``details``.
    """
    session.flush()
    prev = _pending_head(session) or _last_hash(session)
    fields = EventFields(
        id=None,
        hash_version=CURRENT_HASH_VERSION,
        at=(now or utcnow()).astimezone(timezone.utc),
        school_id=school_id,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=json.loads(json.dumps(details or {}, default=str)),
        personal={key: commit_value(value) for key, value in (personal or {}).items()},
        subject_ids=sorted(set(subject_ids or [])),
        prev_hash=prev,
    )
    ev = AuditEvent(
        at=fields.at,
        school_id=fields.school_id,
        actor_id=fields.actor_id,
        actor_label=fields.actor_label,
        action=fields.action,
        object_type=fields.object_type,
        object_id=fields.object_id,
        details=fields.details,
        personal=fields.personal,
        subject_ids=fields.subject_ids,
        prev_hash=prev,
        hash_version=fields.hash_version,
        # Rule 2 seals the id, known only after the insert: a unique placeholder
        # holds the column until then, inside this same transaction.
        hash="pending-" + secrets.token_hex(28),
    )
    session.add(ev)
    session.flush()
    ev.hash = event_hash(_fields_of(ev))
    session.flush()
    session.info[HEAD_INFO_KEY] = (ev.id, ev.hash)
    return ev


def _pending_head(session: Session) -> str | None:
    head = session.info.get(HEAD_INFO_KEY)
    return head[1] if head else None


def _fields_of(ev: AuditEvent) -> EventFields:
    return EventFields(
        id=ev.id,
        hash_version=ev.hash_version,
        at=ev.at,
        school_id=ev.school_id,
        actor_id=ev.actor_id,
        actor_label=ev.actor_label,
        action=ev.action,
        object_type=ev.object_type,
        object_id=ev.object_id,
        details=ev.details,
        personal=ev.personal,
        subject_ids=list(ev.subject_ids or []),
        prev_hash=ev.prev_hash,
    )


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""
    warnings: tuple[str, ...] = ()


def verify_chain(session: Session, head_file: str | None = None) -> VerifyResult:
    """Walk the chain in order; name the first event that does not verify."""
    prev = GENESIS
    count = 0
    newest_rule = 1
    by_id: dict[int, str] = {}
    stmt = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    # Streamed with a server-side cursor on PostgreSQL: close it on early return.
    with session.scalars(stmt) as events:
        for ev in events:
            count += 1
            if ev.prev_hash != prev:
                return VerifyResult(False, count, ev.id, "previous-hash link broken")
            # Rules only move forward: an older rule after a newer one is a downgrade.
            if ev.hash_version not in HASH_VERSIONS or ev.hash_version < newest_rule:
                return VerifyResult(False, count, ev.id, "hash rule was altered")
            newest_rule = ev.hash_version
            problem = personal_problem(ev.personal or {})
            if problem:
                return VerifyResult(False, count, ev.id, f"personal value '{problem}' was altered")
            if event_hash(_fields_of(ev)) != ev.hash:
                return VerifyResult(False, count, ev.id, "content does not match its hash")
            prev = ev.hash
            by_id[ev.id] = ev.hash
    warnings: list[str] = []
    if head_file and os.path.exists(head_file):
        with open(head_file, encoding="utf-8") as fh:
            head = json.load(fh)
        stored = by_id.get(int(head["id"]))
        if stored is None:
            return VerifyResult(False, count, int(head["id"]), "event named by the head file is missing")
        if stored != head["hash"]:
            return VerifyResult(
                False, count, int(head["id"]), "chain was rewritten: head file disagrees"
            )
        newer = sum(1 for i in by_id if i > int(head["id"]))
        if newer:
            warnings.append(f"{newer} event(s) newer than the head file")
    elif head_file and count:
        warnings.append("no head file found; a full rewrite would not be detected")
    return VerifyResult(True, count, warnings=tuple(warnings))


def write_head_file(path: str, event_id: int, event_hash_: str) -> None:
    """Record the chain head outside the database; never move it backwards."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    lock_path = path + ".lock"
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if os.path.exists(path):
                with open(path, encoding="utf-8") as fh:
                    current = json.load(fh)
                if int(current.get("id", 0)) >= event_id:
                    return
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump({"id": event_id, "hash": event_hash_, "written_at": utcnow().isoformat()}, fh)
            os.replace(tmp, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def install_head_writer(session_factory: Any, head_file_getter: Any) -> None:
    """After each commit that appended events, write the head file."""

    @event.listens_for(session_factory, "after_commit")
    def _after_commit(session: Session) -> None:
        head = session.info.pop(HEAD_INFO_KEY, None)
        path = head_file_getter()
        if head and path:
            write_head_file(path, head[0], head[1])

    @event.listens_for(session_factory, "after_rollback")
    def _after_rollback(session: Session) -> None:
        session.info.pop(HEAD_INFO_KEY, None)


def pseudonymise_subject(session: Session, person_id: int) -> int:
    """Erase personal values of events that concern a person; returns the count."""
    changed = 0
    # JSON containment is dialect-specific; erasure is rare, so scan.
    for ev in session.scalars(select(AuditEvent)):
        if person_id not in (ev.subject_ids or []) or not ev.personal:
            continue
        ev.personal = {key: erase_value(entry) for key, entry in ev.personal.items()}
        changed += 1
    return changed
