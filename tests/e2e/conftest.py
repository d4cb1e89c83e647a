"""Browser tests: a live server in a thread on a free port, and Debian's chromium via Playwright.

Reusable fixtures:

- ``live_server``: a ``LiveServer(url, app)`` serving a file-based SQLite
  database built by the migrations (one per test session). Seed data inside
  ``with live_server.app.app_context():`` and commit.
- ``browser``: one chromium for the session; ``browser_page``: a fresh
  desktop page; ``phone_page``: a phone-sized page (touch, 390×844).
- ``login(page, live_server, email)``: log a user in through the form.

Never downloads browsers: chromium comes from the system (``apt install chromium``).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests import factories

CHROMIUM = os.environ.get("CF_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# The README's screenshots are refreshed only on request (`make screenshots`),
# so a test run never modifies tracked files.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("CF_TEST_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "consentflow-screenshots"
)
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.e2e)


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Flask


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from tests.conftest import _server_database, make_app

    instance = tmp_path_factory.mktemp("live-instance")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # The same database engine as the rest of the run (PostgreSQL on CI's second pass).
    base = os.environ.get("TEST_DATABASE_URL", "")
    server_db = _server_database(base) if base.startswith("postgresql") else None
    database_url = next(server_db) if server_db else f"sqlite:///{instance / 'live.db'}"
    # The test configuration, served for real: Dutch as in production, jobs run
    # in-process, and no SERVER_NAME (the browser uses 127.0.0.1:port).
    app = make_app(database_url, instance, SERVER_NAME=None, BABEL_DEFAULT_LOCALE="nl",
                   QUEUE_IMMEDIATE=True, PUBLIC_BASE_URL=url)
    with app.app_context():
        upgrade()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(url, app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            from consentflow.extensions import db

            db.engine.dispose()
        if server_db is not None:
            for _ in server_db:  # drops the throwaway database
                pass


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        # Never a silent skip: `make test` installs Debian's chromium first.
        pytest.fail(f"chromium not found at {CHROMIUM}; run `make system-deps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def browser_page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900},
                                  locale="nl-NL")
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def phone_page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, locale="nl-NL")
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def make_user(live_server: LiveServer, school_id: int, role: str) -> str:
    """A user with ``role`` in the school; returns the e-mail (password: factories.PASSWORD)."""
    from consentflow.extensions import db
    from consentflow.models import School

    with live_server.app.app_context():
        school = db.session.get(School, school_id)
        user = factories.user(db.session, school=school, roles=(role,))
        db.session.commit()
        return str(user.email)


def login(page: Any, email: str, password: str = factories.PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form [type=submit]")
    page.wait_for_load_state("networkidle")


def screenshot(page: Any, name: str, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path
