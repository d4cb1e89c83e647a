"""Shared fixtures: a real database built by the migrations, fresh per run.

SQLite by default; set TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/postgres)
and a throwaway database is created on that server for the run and dropped after.
Tables are emptied after each test, so tests may commit like the app does.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests import factories

TESTS_DIR = Path(__file__).parent


def _import_views() -> None:
    """Import the view modules the app factory registers, once, while tests are collected.

    A run forked from the collecting process (mutation testing forks one per
    mutant) then builds its apps without importing ~1 s of views each time.
    """
    import importlib

    from consentflow.init import FEATURES

    for name in ["auth", "home", *FEATURES]:
        importlib.import_module(f"consentflow.{name}.views")
    importlib.import_module("consentflow.admin.setup")


_import_views()
DATA_DIR = TESTS_DIR / "data"


def _server_database(base_url: str) -> Iterator[str]:
    """Create a uniquely named database on the server for this run."""
    url = make_url(base_url)
    name = f"cf_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_kind() -> str:
    """The database this run tests: TEST_DATABASE_URL names it ("sqlite" or a PostgreSQL URL)."""
    base = os.environ.get("TEST_DATABASE_URL", "sqlite")
    if base.startswith("postgresql"):
        return "postgresql"
    if base.startswith("sqlite"):
        return "sqlite"
    raise pytest.UsageError(f"TEST_DATABASE_URL must be 'sqlite' or a postgresql URL, not {base!r}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under mutation testing, a mutant's tests run fastest first.

    mutmut passes them in no particular order and stops at the first failure
    (-x): the quick rule-level test that kills most mutants should not wait
    behind a slow end-to-end one. Durations are mutmut's own, measured on its
    clean run (mutmut-stats.json in its working directory).
    """
    stats = Path("mutmut-stats.json")
    if not os.environ.get("MUTANT_UNDER_TEST") or not stats.is_file():
        return
    durations = json.loads(stats.read_text(encoding="utf-8")).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))


def pytest_configure(config: pytest.Config) -> None:
    # The suite never reads the developer's instance/ folder or their
    # CONSENTFLOW_* settings: every app it builds gets its own instance path.
    for key in [k for k in os.environ if k.startswith("CONSENTFLOW_")]:
        del os.environ[key]
    os.environ["CONSENTFLOW_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="consentflow-test-instance-")
    database_kind()


def _database_label() -> str:
    if database_kind() == "postgresql":
        url = make_url(os.environ["TEST_DATABASE_URL"])
        return f"PostgreSQL ({url.host}:{url.port or 5432}, a throwaway database per run)"
    return "SQLite (the embedded default, a file per run)"


def pytest_report_header(config: pytest.Config) -> str:
    return f"database under test: {_database_label()}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"database under test: {_database_label()}")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if database_kind() == "postgresql":
        yield from _server_database(os.environ["TEST_DATABASE_URL"])
    else:
        path = tmp_path_factory.mktemp("db") / "test.db"
        yield f"sqlite:///{path}"


class IsolatedClient(FlaskClient):
    """Runs each request in a clean context, as in production.

    Flask reuses an already pushed app context for a request; the ``app``
    fixture pushes one, so without this, ``g`` (and Flask-Login's cached user)
    and the database session would leak from the test into every request.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = contextvars.Context().run(super().open, *args, **kwargs)
        from flask import has_app_context

        if has_app_context():
            from consentflow.extensions import db

            db.session.expire_all()
        return response


def make_app(database_url: str, instance: Path, **overrides: Any) -> Flask:
    from consentflow import create_app

    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(instance),
        "STORAGE_DIR": str(instance / "storage"),
        "AUDIT_HEAD_FILE": str(instance / "audit-head.json"),
        "FACE_KEY_FILE": str(instance / "face.key"),
        "QUEUE_BACKEND": "memory",
        "QUEUE_SQLITE_PATH": str(instance / "queue.db"),
        "SERVER_NAME": "localhost",
        # Tests read English; the Dutch default is tested on its own (test_auth).
        "BABEL_DEFAULT_LOCALE": "en",
        # Tests of other features sign in with a password alone; the second
        # factor's own tests (tests/web/test_second_factor.py, the browser
        # test) run with the production default, SECOND_FACTOR_ROLES = admin, pr.
        "SECOND_FACTOR_ROLES": [],
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    _APPS_MADE.append(app)
    return app


# Every app a test (or a fixture it pulls in) made: its engines' pooled
# connections are closed after the test, instead of whenever the garbage
# collector gets to the app, where psycopg would warn ("deleted while still
# open") in the middle of an unrelated test and fail it.
_APPS_MADE: list[Flask] = []


@pytest.fixture(autouse=True)
def _close_pooled_connections() -> Iterator[None]:
    start = len(_APPS_MADE)
    yield
    from consentflow.extensions import db

    for made in _APPS_MADE[start:]:
        with made.app_context():
            for engine in db.engines.values():
                engine.dispose()
    del _APPS_MADE[start:]


# Mutation testing (bench/mutate.py) starts one short test run per mutant:
# with TEST_DB_TEMPLATE set, the first run's migrated SQLite database is kept
# there and later runs start from a copy of it. Always the migrations' own
# result: nothing here creates a table or trigger by hand.
_TEMPLATE = os.environ.get("TEST_DB_TEMPLATE", "")


def _sqlite_copy(source: str, target: str) -> None:
    """A consistent copy of a SQLite database, WAL included (the backup API)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


@pytest.fixture(scope="session")
def migrated(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    from flask_migrate import upgrade

    path = database_url.removeprefix("sqlite:///") if database_url.startswith("sqlite:///") else ""
    if _TEMPLATE and path and Path(_TEMPLATE).is_file():
        _sqlite_copy(_TEMPLATE, path)
        return database_url
    app = make_app(database_url, tmp_path_factory.mktemp("migrate-instance"))
    with app.app_context():
        upgrade()
        from consentflow.extensions import db

        db.engine.dispose()
    if _TEMPLATE and path:
        partial = f"{_TEMPLATE}.{os.getpid()}"
        _sqlite_copy(path, partial)
        os.replace(partial, _TEMPLATE)
    return database_url


def _empty_tables(app: Flask) -> None:
    from consentflow.extensions import db

    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                # Append-only tables refuse DELETE by trigger. The triggers the
                # migrations created are set aside and restored from their own
                # stored SQL, so a migration that lacks one is not papered over.
                triggers = conn.execute(text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
                for name, _sql in triggers:
                    conn.execute(text(f'DROP TRIGGER "{name}"'))
                for table in tables:
                    conn.execute(text(f'DELETE FROM "{table}"'))
                for _name, sql in triggers:
                    conn.execute(text(sql))
        db.engine.dispose()


@pytest.fixture
def app(migrated: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(migrated, tmp_path / "instance")
    ctx = app.app_context()
    ctx.push()
    try:
        yield app
    finally:
        ctx.pop()
        _empty_tables(app)


@pytest.fixture
def db_session(app: Flask) -> Any:
    from consentflow.extensions import db

    return db.session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """A CSRF token bound to this client's session, read from a real page."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class Auth:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str = factories.PASSWORD) -> Any:
        token = csrf_token(self.client)
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )

    def as_role(self, db_session: Any, role: str, school: Any = None) -> Any:
        """Create a user with ``role`` in ``school`` (or a new school) and log in."""
        school = school or factories.school(db_session)
        user = factories.user(db_session, school=school, roles=(role,))
        db_session.commit()
        response = self.login(user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    def csrf(self, path: str = "/") -> str:
        return csrf_token(self.client, path)


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def mail_server() -> Iterator[Any]:
    """A real SMTP server on loopback; pass ``mail_server.config()`` to make_app or app.config."""
    from tests.mailserver import MailServer

    server = MailServer().start()
    try:
        yield server
    finally:
        server.stop()
