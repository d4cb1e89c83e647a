"""Every column of an audit event, every key of its details and personal values, is sealed.

Each case edits one thing in the database behind the application's back and
checks that ``flask audit verify`` names the edited event.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from consentflow.audit.chain import ERASED, personal_display
from consentflow.audit.service import Actor, pseudonymise_subject, record_event, verify_chain
from consentflow.models import AuditEvent
from tests import factories

DETAILS = {"role": "teacher", "count": 3, "flag": True, "nested": {"a": 1}}
PERSONAL = {"email": "parent@example.org", "name": "Anna de Vries"}


@pytest.fixture
def chain(db_session) -> dict[str, Any]:
    school_a = factories.school(db_session)
    school_b = factories.school(db_session)
    alice = factories.user(db_session, school=school_a, roles=("admin",))
    bob = factories.user(db_session, school=school_a, roles=("admin",))
    events = [
        record_event(db_session, actor=Actor(alice.id, alice.email), action="test.event",
                     object_type="person", object_id=i, school_id=school_a.id,
                     details={**DETAILS, "i": i}, personal=PERSONAL, subject_ids=[i + 1, i + 7])
        for i in range(3)
    ]
    db_session.commit()
    return {"events": [e.id for e in events], "school_b": school_b.id, "bob": bob.id}


def _row(db_session, event_id: int) -> dict[str, Any]:
    return dict(db_session.execute(text("SELECT * FROM audit_event WHERE id = :id"),
                                   {"id": event_id}).mappings().one())


def _set(db_session, event_id: int, column: str, value: Any) -> None:
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    db_session.execute(text(f"UPDATE audit_event SET {column} = :v WHERE id = :id"),
                       {"v": value, "id": event_id})
    db_session.commit()
    db_session.expire_all()


def _as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _column_tampers(ctx: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """One forged value per column of audit_event (the test fails if a column has none)."""
    subject_ids = _as_json(row["subject_ids"])
    return {
        "at": "one second later (set through the table, see below)",
        "school_id": ctx["school_b"],
        "actor_id": ctx["bob"],
        "actor_label": "someone-else@example.org",
        "action": "test.other",
        "object_type": "album",
        "object_id": "999",
        "details": {**_as_json(row["details"]), "role": "admin"},
        "personal": {**_as_json(row["personal"]),
                     "name": {**_as_json(row["personal"])["name"], "v": "Forged Name"}},
        "subject_ids": list(reversed(subject_ids)),
        "prev_hash": "f" * 64,
        "hash": "e" * 64,
        "hash_version": 1,
        "id": row["id"] + 1000,
    }


def _assert_named(db_session, runner, event_id: int, what: str) -> None:
    result = verify_chain(db_session)
    assert not result.ok, f"tampering with {what} was not detected"
    assert result.first_broken_id == event_id, (what, result)
    cli = runner.invoke(args=["audit", "verify"])
    assert cli.exit_code == 1, (what, cli.output)
    assert f"BROKEN at event {event_id}" in cli.output, (what, cli.output)


def test_every_column_is_sealed(app, db_session, runner, chain) -> None:
    columns = [c.name for c in AuditEvent.__table__.columns]
    last = chain["events"][-1]
    middle = chain["events"][1]
    for column in columns:
        # The id is changed on the last event, so the order of the chain stays as it was.
        target = last if column == "id" else middle
        original = _row(db_session, target)
        forged = _column_tampers(chain, original)
        assert column in forged, f"no tamper case for column {column}"
        value = forged[column]
        if column == "at":
            at = db_session.get(AuditEvent, target).at
            db_session.execute(
                AuditEvent.__table__.update().where(AuditEvent.id == target)
                .values(at=at + timedelta(seconds=1)))
            db_session.commit()
            db_session.expire_all()
        else:
            _set(db_session, target, column, value)
        named = target + 1000 if column == "id" else target
        _assert_named(db_session, runner, named, column)
        # Put the original back and check the chain is whole again.
        if column == "id":
            _set(db_session, named, "id", target)
        else:
            _restore(db_session, target, column, original)
        assert verify_chain(db_session).ok, f"restoring {column} did not restore the chain"


def _restore(db_session, target: int, column: str, original: dict[str, Any]) -> None:
    value = original[column]
    if column in ("details", "personal", "subject_ids"):
        value = _as_json(value)
    if column == "at":
        db_session.execute(text("UPDATE audit_event SET at = :v WHERE id = :id"),
                           {"v": value, "id": target})
        db_session.commit()
        db_session.expire_all()
        return
    _set(db_session, target, column, value)


def test_every_details_key_is_sealed(db_session, runner, chain) -> None:
    target = chain["events"][1]
    original = _as_json(_row(db_session, target)["details"])
    for key in original:
        _set(db_session, target, "details", {**original, key: "forged"})
        _assert_named(db_session, runner, target, f"details.{key}")
        removed = {k: v for k, v in original.items() if k != key}
        _set(db_session, target, "details", removed)
        _assert_named(db_session, runner, target, f"details.{key} removed")
        _set(db_session, target, "details", original)
        assert verify_chain(db_session).ok
    _set(db_session, target, "details", {**original, "added": 1})
    _assert_named(db_session, runner, target, "details key added")


def test_every_personal_value_is_sealed(db_session, runner, chain) -> None:
    target = chain["events"][1]
    original = _as_json(_row(db_session, target)["personal"])
    for key, entry in original.items():
        forgeries = {
            "value": {**entry, "v": "Forged"},
            "salt": {**entry, "s": "0" * 32},
            "commitment": {**entry, "c": "0" * 64},
            # The probe's forgery: a false value dressed up as erased.
            "fake erasure": {"v": "Forged", "c": entry["c"], "erased": True},
            "fake erasure with salt": {"v": ERASED, "s": entry["s"], "c": entry["c"], "erased": True},
        }
        for what, forged in forgeries.items():
            _set(db_session, target, "personal", {**original, key: forged})
            _assert_named(db_session, runner, target, f"personal.{key} {what}")
        removed = {k: v for k, v in original.items() if k != key}
        _set(db_session, target, "personal", removed)
        _assert_named(db_session, runner, target, f"personal.{key} removed")
        _set(db_session, target, "personal", original)
        assert verify_chain(db_session).ok


def test_real_erasure_verifies_and_shows_no_value(app, db_session, chain) -> None:
    target = chain["events"][1]
    changed = pseudonymise_subject(db_session, 2)  # subject ids of event 1 are [2, 8]
    db_session.commit()
    assert changed == 1
    ev = db_session.get(AuditEvent, target)
    assert "Anna" not in json.dumps(ev.personal)
    assert personal_display(ev.personal) == {"email": ERASED, "name": ERASED}
    assert verify_chain(db_session, app.config["AUDIT_HEAD_FILE"]).ok


def test_audit_screen_never_shows_a_forged_value(client, auth, db_session, chain) -> None:
    target = chain["events"][1]
    original = _as_json(_row(db_session, target)["personal"])
    forged = {**original, "name": {"v": "Forged Name", "c": original["name"]["c"], "erased": True}}
    _set(db_session, target, "personal", forged)
    event = db_session.get(AuditEvent, target)
    school = factories.school(db_session)
    db_session.execute(text("UPDATE audit_event SET school_id = :s WHERE id = :id"),
                       {"s": school.id, "id": target})
    db_session.commit()
    auth.as_role(db_session, "privacy", school=school)
    page = client.get(f"/admin/auditevent/details/?id={event.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Forged Name" not in html
    assert "does not verify" in html
    assert "parent@example.org" in html  # the intact value is still shown


def test_older_events_keep_verifying(db_session) -> None:
    """Events sealed before revision 0005 (rule 1) verify unchanged next to new ones."""
    from consentflow.audit.chain import GENESIS, EventFields, commit_value, event_hash
    from consentflow.models import utcnow

    fields = EventFields(id=None, hash_version=1, at=utcnow(), school_id=None, actor_id=None,
                         actor_label="old", action="old.event", object_type="x", object_id="1",
                         details={"a": 1}, personal={"n": commit_value("Old")}, subject_ids=[3, 1],
                         prev_hash=GENESIS)
    db_session.add(AuditEvent(at=fields.at, actor_label="old", action="old.event", object_type="x",
                              object_id="1", details={"a": 1}, personal=fields.personal,
                              subject_ids=[1, 3], prev_hash=GENESIS, hash=event_hash(fields),
                              hash_version=1))
    db_session.commit()
    record_event(db_session, actor=Actor.system("test"), action="new.event", object_type="x")
    db_session.commit()
    assert verify_chain(db_session).ok
    newest = db_session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert newest.hash_version == 2
