"""Pure hashing rules of the audit chain (no database, no Flask).

Each event's hash covers its fields, the commitments of its personal values
and the previous event's hash. A personal value is committed as
sha256(salt || value): erasure drops value and salt but keeps the
commitment, so the chain still verifies, while editing a value that is still
present breaks it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
ERASED = "[erased]"


def canonical(value: Any) -> str:
    """Deterministic JSON used for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def commit_value(value: Any, salt: str | None = None) -> dict[str, Any]:
    """A personal value with its salt and commitment."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.sha256((salt + canonical(value)).encode()).hexdigest()
    return {"v": value, "s": salt, "c": digest}


def erase_value(entry: dict[str, Any]) -> dict[str, Any]:
    """Keep only the commitment of a personal value."""
    return {"v": ERASED, "c": entry["c"], "erased": True}


def commitments(personal: dict[str, Any]) -> dict[str, str]:
    return {key: entry["c"] for key, entry in sorted(personal.items())}


def personal_problem(personal: dict[str, Any]) -> str | None:
    """Name the first personal value whose commitment does not match."""
    for key, entry in sorted(personal.items()):
        if entry.get("erased"):
            continue
        recomputed = commit_value(entry.get("v"), entry.get("s", ""))["c"]
        if recomputed != entry.get("c"):
            return key
    return None


@dataclass(frozen=True)
class EventFields:
    at: datetime
    school_id: int | None
    actor_id: int | None
    actor_label: str
    action: str
    object_type: str
    object_id: str | None
    details: dict[str, Any]
    personal: dict[str, Any]
    subject_ids: list[int]
    prev_hash: str


def event_hash(fields: EventFields) -> str:
    """The hash of one event, over every field and the previous hash."""
    body = {
        "at": fields.at.isoformat(timespec="microseconds"),
        "school_id": fields.school_id,
        "actor_id": fields.actor_id,
        "actor_label": fields.actor_label,
        "action": fields.action,
        "object_type": fields.object_type,
        "object_id": fields.object_id,
        "details": fields.details,
        "personal": commitments(fields.personal),
        "subject_ids": sorted(fields.subject_ids),
        "prev_hash": fields.prev_hash,
    }
    return hashlib.sha256(canonical(body).encode()).hexdigest()
