"""Configuration: defaults -> instance/config.py -> CONSENTFLOW_* env -> overrides.

Outside testing and debug the app refuses to start with a missing or
well-known secret: a guessable SECRET_KEY lets anyone forge sessions and
consent links.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Flask

INSECURE_SECRETS = frozenset({"", "dev", "change-me", "secret", "changeme"})


# Face matching thresholds (face_recognition distance): the ONE definition;
# everything builds ``consentflow.faces.matching.MatchThresholds`` from these
# keys (processing, review suggestions, the publication check). The figures
# behind them are in bench/README.md (bench/thresholds.py, bench/lookalikes.py).
MATCH_DEFAULTS: dict[str, float] = {
    # Below it a clear best candidate is matched automatically. Well inside
    # face_recognition's 0.6 tolerance: its README warns the model is trained
    # on adults and mixes up children at 0.6, and a wrong automatic match can
    # show a child without consent. Same person on different photos: median
    # 0.40; different people in one group photo: rarely below 0.5.
    "MATCH_STRICT": 0.5,
    # Below it a candidate is shown to a reviewer ("weak" from strict to here);
    # face_recognition's default tolerance, the publication check's distance.
    "MATCH_LOOSE": 0.6,
    # Two people closer than this to each other in distance: "ambiguous", a
    # reviewer decides. The wider of the two margins once found in the code.
    "MATCH_MARGIN": 0.06,
}


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete."""


def default_config(instance_path: str) -> dict[str, Any]:
    """Embedded defaults: SQLite in WAL mode, local storage, SQLite job queue."""
    return {
        "SECRET_KEY": "",
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + os.path.join(instance_path, "consentflow.db"),
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "STORAGE_DIR": os.path.join(instance_path, "storage"),
        "AUDIT_HEAD_FILE": os.path.join(instance_path, "audit-head.json"),
        # Key for encrypting face encodings at rest; never stored in the database.
        "FACE_KEY_FILE": os.path.join(instance_path, "face.key"),
        "FACE_KEY": "",
        # Job queue: "sqlite" (default, file under instance/), "redis", or "memory".
        "QUEUE_BACKEND": "sqlite",
        "QUEUE_SQLITE_PATH": os.path.join(instance_path, "queue.db"),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "QUEUE_IMMEDIATE": False,
        "QUEUE_NAME": "consentflow",
        # Upload limits: a decoded image may not exceed these.
        "MAX_CONTENT_LENGTH": 512 * 1024 * 1024,
        "UPLOAD_MAX_BYTES": 60 * 1024 * 1024,
        "UPLOAD_MAX_PIXELS": 80_000_000,
        # Longest side and longest:shortest ratio, read from the header before decoding
        # (see consentflow.photos.imaging for why these values).
        "UPLOAD_MAX_SIDE": 16_000,
        "UPLOAD_MAX_ASPECT": 10.0,
        # Videos are processed by the worker (consentflow/video); their own byte limit.
        "UPLOAD_MAX_VIDEO_BYTES": 500 * 1024 * 1024,
        **MATCH_DEFAULTS,
        # Sessions and cookies.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": True,
        "REMEMBER_COOKIE_SECURE": True,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_DURATION": timedelta(days=14),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_WINDOW_SECONDS": 15 * 60,
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        # Consent links.
        "CONSENT_LINK_DAYS": 60,
        "MAIL_SERVER": "",
        "MAIL_PORT": 25,
        "MAIL_USE_TLS": False,
        "MAIL_USERNAME": "",
        "MAIL_PASSWORD": "",
        "MAIL_FROM": "consentflow@localhost",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        # i18n
        "BABEL_DEFAULT_LOCALE": "nl",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Amsterdam",
        "LANGUAGES": ["nl", "en"],
        # Retention (days), SPEC §7.
        "RETENTION_REJECTED_ORIGINALS_DAYS": 30,
        "RETENTION_ENCODINGS_GRACE_DAYS": 7,
    }


def _coerce(raw: str, current: Any) -> Any:
    """Interpret an environment string with the type of the current value."""
    if isinstance(current, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    if isinstance(current, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def load_config(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    """Layer the configuration sources and validate the result."""
    app.config.update(default_config(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    prefix = "CONSENTFLOW_"
    for key, raw in os.environ.items():
        if key.startswith(prefix) and key != "CONSENTFLOW_INSTANCE_PATH":
            name = key[len(prefix):]
            app.config[name] = _coerce(raw, app.config.get(name))
    if overrides:
        app.config.update(overrides)
    _check(app)


def _check(app: Flask) -> None:
    relaxed = app.config.get("TESTING") or app.debug
    if relaxed:
        # Plain-HTTP development and tests cannot carry Secure cookies.
        app.config["SESSION_COOKIE_SECURE"] = False
        app.config["REMEMBER_COOKIE_SECURE"] = False
        if not app.config.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = os.urandom(32).hex()
        return
    secret = str(app.config.get("SECRET_KEY") or "")
    if secret.lower() in INSECURE_SECRETS or len(secret) < 16:
        raise ConfigError(
            "SECRET_KEY is missing or insecure. Set CONSENTFLOW_SECRET_KEY or "
            "SECRET_KEY in instance/config.py to a long random value "
            "(python -c 'import secrets; print(secrets.token_hex(32))')."
        )
