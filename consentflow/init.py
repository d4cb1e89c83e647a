"""The ``init_*`` steps of the app factory, one per concern."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine

from consentflow.extensions import babel, csrf, db, login_manager, migrate


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web app read while a worker writes; the busy timeout makes
    # concurrent writers wait instead of failing. Foreign keys are off by
    # default in SQLite.
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def configure_engine(engine: Engine) -> None:
    """Per-dialect connection settings (shared by the app and the test harness)."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
        event.listen(engine, "connect", _sqlite_pragmas)


def init_database(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir())
    with app.app_context():
        configure_engine(db.engine)
    from consentflow.audit.service import install_head_writer

    install_head_writer(db.session, lambda: current_app.config.get("AUDIT_HEAD_FILE"))


def _migrations_dir() -> str:
    import os

    # Inside the package, so a deployment from the wheel can upgrade its database.
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def init_auth(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.login_message_category = "info"

    from consentflow.auth.session_guard import install_session_guard

    install_session_guard(app)

    csrf.init_app(app)


def init_i18n(app: Flask) -> None:
    from consentflow.i18n import select_locale

    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories="translations",
    )


def csp_nonce() -> str:
    """A per-request nonce, so Flask-Admin's inline scripts run under a strict CSP."""
    import secrets

    from flask import g

    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


def init_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
            f"script-src 'self' 'nonce-{csp_nonce()}'; frame-ancestors 'none'; form-action 'self'",
        )
        return response


def init_blueprints(app: Flask) -> None:
    from consentflow.auth.views import bp as auth_bp
    from consentflow.home.views import bp as home_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(home_bp)
    for module in _feature_blueprints():
        app.register_blueprint(module.bp)

    from consentflow.labels import register_filters

    register_filters(app)

    @app.context_processor
    def _inject() -> dict[str, Any]:
        from consentflow.templating import layout_context

        return layout_context()


def _feature_blueprints() -> list[Any]:
    """Feature packages that exist; each has views.py with ``bp``."""
    import importlib

    found = []
    for name in FEATURES:
        found.append(importlib.import_module(f"consentflow.{name}.views"))
    return found


# Feature blueprints, in menu order. Each package owns its views module.
FEATURES: list[str] = ["consent", "people", "photos", "review", "publish", "videos", "privacy",
                       "api", "signin"]


def init_admin(app: Flask) -> None:
    from consentflow.admin.setup import build_admin

    build_admin(app)


def init_jobs(app: Flask) -> None:
    from consentflow.jobs import init_queue

    init_queue(app)


def init_cli(app: Flask) -> None:
    from consentflow.cli import register_cli

    register_cli(app)
