"""Pure hashing rules of the audit chain (no database, no Flask).

Each event's hash covers its fields, the commitments of its personal values
and the previous event's hash. A personal value is committed as
sha256(salt || value): erasure drops value and salt but keeps the
commitment, so the chain still verifies, while editing a value that is still
present breaks it. An erased entry holds nothing but its commitment: an entry
marked erased that still carries a value (or a salt) is a forgery.

Hash rules: rule 1 sealed events written before revision 0005 and is kept
only to verify them; rule 2 also covers the event id, the rule number and the
stored order of subject ids, so every column of an event is sealed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
ERASED = "[erased]"  # how rule-1 erasure left the value; still accepted in that exact form
ALTERED = "[altered: does not verify]"
CURRENT_HASH_VERSION = 2
HASH_VERSIONS = (1, 2)
_LIVE_KEYS = {"v", "s", "c"}
_ERASED_KEYS = {"c", "erased"}


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
    return {"c": entry["c"], "erased": True}


def commitments(personal: dict[str, Any]) -> dict[str, Any]:
    return {key: entry.get("c") if isinstance(entry, dict) else None
            for key, entry in sorted(personal.items())}


def _is_erased(entry: dict[str, Any]) -> bool:
    """An erased entry holds only its commitment (rule-1 erasure also kept the ERASED marker)."""
    if entry.get("erased") is not True or not isinstance(entry.get("c"), str):
        return False
    keys = set(entry)
    return keys == _ERASED_KEYS or (keys == _ERASED_KEYS | {"v"} and entry["v"] == ERASED)


def _is_intact(entry: dict[str, Any]) -> bool:
    """A live entry is exactly value, salt and a commitment that matches them."""
    if set(entry) != _LIVE_KEYS or not isinstance(entry["s"], str) or not entry["s"]:
        return False
    return bool(commit_value(entry["v"], entry["s"])["c"] == entry["c"])


def personal_problem(personal: dict[str, Any]) -> str | None:
    """Name the first personal value that is neither intact nor properly erased."""
    for key, entry in sorted(personal.items()):
        if not isinstance(entry, dict) or not (_is_intact(entry) or _is_erased(entry)):
            return key
    return None


def personal_display(personal: dict[str, Any]) -> dict[str, str]:
    """Values fit to show: a value is shown only if its commitment verifies."""
    shown: dict[str, str] = {}
    for key, entry in sorted((personal or {}).items()):
        if isinstance(entry, dict) and _is_intact(entry):
            shown[key] = str(entry["v"])
        elif isinstance(entry, dict) and _is_erased(entry):
            shown[key] = ERASED
        else:
            shown[key] = ALTERED
    return shown


@dataclass(frozen=True)
class EventFields:
    id: int | None
    hash_version: int
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
    if fields.hash_version == 1:
        return _hash_rule_1(fields)
    if fields.hash_version != 2 or fields.id is None:
        raise ValueError(f"cannot seal an event with hash rule {fields.hash_version!r} and id {fields.id!r}")
    body = {
        "rule": 2,
        "id": fields.id,
        "at": fields.at.isoformat(timespec="microseconds"),
        "school_id": fields.school_id,
        "actor_id": fields.actor_id,
        "actor_label": fields.actor_label,
        "action": fields.action,
        "object_type": fields.object_type,
        "object_id": fields.object_id,
        "details": fields.details,
        "personal": commitments(fields.personal),
        "subject_ids": list(fields.subject_ids),
        "prev_hash": fields.prev_hash,
    }
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def _hash_rule_1(fields: EventFields) -> str:
    """The rule of events written before revision 0005 (no id, sorted subject ids)."""
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
