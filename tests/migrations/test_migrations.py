"""Migrations build the schema, tear it down and build it again; models match them."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

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


def _trigger_names(conn) -> set[str]:
    from sqlalchemy import text

    if conn.dialect.name == "postgresql":
        rows = conn.execute(text(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
            "AND tgrelid = 'consent_record'::regclass"))
    else:
        rows = conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'consent_record'"))
    return {r[0] for r in rows}


def test_migrations_create_the_consent_record_triggers(tmp_path: Path) -> None:
    """The immutability of consent records comes from the migrations themselves
    (the test fixtures only restore what the migrations created)."""
    url, gen = _fresh_url(tmp_path)
    try:
        app = make_app(url, tmp_path / "instance")
        with app.app_context():
            from consentflow.extensions import db

            upgrade()
            with db.engine.connect() as conn:
                names = _trigger_names(conn)
            if db.engine.dialect.name == "postgresql":
                assert names == {"consent_record_immutable"}
            else:
                assert names == {"consent_record_no_update", "consent_record_no_delete"}
            db.engine.dispose()
    finally:
        if gen is not None:
            for _ in gen:
                pass
