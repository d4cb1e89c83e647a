"""Migrations build the schema, tear it down and build it again; models match them."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import _server_database, make_app


def _fresh_url(tmp_path: Path) -> tuple[str, object]:
    import os

    base = os.environ.get("TEST_DATABASE_URL")
    if base and base.startswith("postgresql"):
        gen = _server_database(base)
        return next(gen), gen
    return f"sqlite:///{tmp_path / 'mig.db'}", None


def test_upgrade_downgrade_upgrade_and_no_drift(tmp_path: Path) -> None:
    url, gen = _fresh_url(tmp_path)
    try:
        app = make_app(url, tmp_path / "instance")
        with app.app_context():
            from consentflow.extensions import db

            upgrade()
            assert "consent_record" in inspect(db.engine).get_table_names()
            downgrade(revision="base")
            assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
            upgrade()
            with db.engine.connect() as conn:
                ctx = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(ctx, db.metadata)
            assert diff == [], f"models and migrations disagree: {diff}"
            db.engine.dispose()
    finally:
        if gen is not None:
            for _ in gen:  # drop the throwaway database
                pass


# Every trigger the migrations must create, by name, with its table and the
# statements it refuses. The test fixtures only restore triggers the migrations
# made, so this is the place that notices a migration without one.
EXPECTED_TRIGGERS = {
    "sqlite": {
        ("consent_record_no_update", "consent_record", "UPDATE"),
        ("consent_record_no_delete", "consent_record", "DELETE"),
        ("consent_form_signed_no_update", "consent_form", "UPDATE"),
        ("consent_form_signed_no_delete", "consent_form", "DELETE"),
    },
    "postgresql": {
        ("consent_record_immutable", "consent_record", "UPDATE"),
        ("consent_record_immutable", "consent_record", "DELETE"),
        ("consent_form_signed_immutable", "consent_form", "UPDATE"),
        ("consent_form_signed_immutable", "consent_form", "DELETE"),
    },
}


def _triggers(conn: Any) -> set[tuple[str, str, str]]:
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text(
            "SELECT trigger_name, event_object_table, event_manipulation "
            "FROM information_schema.triggers WHERE trigger_schema = current_schema()"))
        return {(r[0], r[1], r[2]) for r in rows}
    found = set()
    for name, table, sql in conn.execute(text(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")):
        verb = re.search(r"\bBEFORE\s+(UPDATE|DELETE|INSERT)\b", sql, re.IGNORECASE)
        found.add((name, table, verb.group(1).upper() if verb else "?"))
    return found


def _signed_form(session: Any) -> tuple[int, int]:
    """A school with a form version and one consent record on it: (form id, record id)."""
    from consentflow.models import ConsentForm, ConsentRecord, Person, School, SchoolYear

    school = School(name="Trigger school", slug="trigger-school")
    session.add(school)
    session.flush()
    year = SchoolYear(school_id=school.id, label="2026-2027", starts_on=date(2026, 8, 1),
                      ends_on=date(2027, 7, 31))
    session.add(year)
    session.flush()
    form = ConsentForm(school_id=school.id, school_year_id=year.id, version=1, title="Media",
                       wording="...", purposes=["website.photo"])
    person = Person(school_id=school.id, kind="student", external_id="T1", first_name="Tess",
                    last_name="Trigger", date_of_birth=date(2014, 1, 1), group_name="3B")
    session.add_all([form, person])
    session.flush()
    record = ConsentRecord(school_id=school.id, person_id=person.id, school_year_id=year.id,
                           form_id=form.id, decisions={"website.photo": True}, signer_kind="self",
                           signer_name="Tess Trigger", method="paper",
                           signed_at=datetime(2026, 9, 1, tzinfo=timezone.utc))
    session.add(record)
    session.commit()
    return form.id, record.id


def _refused(engine: Any, sql: str, **params: Any) -> bool:
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    except DBAPIError:
        return True
    return False


def test_migrations_create_the_immutability_triggers(tmp_path: Path) -> None:
    """Consent records never change or disappear; a signed form version is frozen.

    Checked by name on a database built by the migrations alone (upgrade,
    downgrade, upgrade), and by trying what they forbid.
    """
    url, gen = _fresh_url(tmp_path)
    try:
        app = make_app(url, tmp_path / "instance")
        with app.app_context():
            from consentflow.extensions import db

            upgrade()
            downgrade(revision="base")
            with db.engine.connect() as conn:
                assert _triggers(conn) == set(), "downgrade left triggers behind"
            upgrade()
            with db.engine.connect() as conn:
                found = _triggers(conn)
            expected = EXPECTED_TRIGGERS[db.engine.dialect.name]
            assert expected <= found, f"missing triggers: {sorted(expected - found)}"

            form_id, record_id = _signed_form(db.session)
            db.session.remove()
            assert _refused(db.engine, "DELETE FROM consent_record WHERE id = :id", id=record_id)
            assert _refused(db.engine, "UPDATE consent_record SET method = 'web' WHERE id = :id",
                            id=record_id)
            assert _refused(db.engine, "UPDATE consent_form SET title = 'Changed' WHERE id = :id",
                            id=form_id)
            assert _refused(db.engine, "DELETE FROM consent_form WHERE id = :id", id=form_id)
            db.engine.dispose()
    finally:
        if gen is not None:
            for _ in gen:
                pass
