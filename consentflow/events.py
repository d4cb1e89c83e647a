"""In-process domain events, handled synchronously in the emitter's transaction.

The consent registry emits ``PurposesWithdrawn`` when a new record removes
purposes; the publication side subscribes and creates takedown tasks. Because
handlers run in the same transaction, a withdrawal and its takedowns commit
together or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class PurposesWithdrawn:
    """A consent record took away purposes that were granted before."""

    school_id: int
    person_id: int
    purposes: frozenset[str]  # e.g. {"social_media.photo", "face_matching"}
    record_id: int  # the new, superseding consent record
    at: datetime


@dataclass(frozen=True)
class PersonLeft:
    """A student or staff member left the school (reference faces must go, SPEC §7)."""

    school_id: int
    person_id: int
    left_on: date
    at: datetime


Handler = Callable[[Session, Any], None]
_handlers: dict[type, list[Handler]] = defaultdict(list)


def subscribe(event_type: type, handler: Handler) -> None:
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def emit(session: Session, event: object) -> None:
    for handler in list(_handlers[type(event)]):
        handler(session, event)
