"""Configuration: defaults -> instance/config.py -> CONSENTFLOW_* env -> overrides.

Outside testing and debug the app refuses to start with a missing or
well-known secret: a guessable SECRET_KEY lets anyone forge sessions and
consent links.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

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
        # Background jobs (README, Robustness): a running job's lease, renewed by
        # its worker every quarter of it; a killed worker's job is taken over once
        # the lease expired (the sweeper runs every minute). A queued job that
        # never started is assumed lost after 6 x PHOTO_STALE_SECONDS (photos)
        # or PUBLISH_STALE_SECONDS (publications) and queued again.
        "PHOTO_LEASE_SECONDS": 60,
        "PUBLISH_LEASE_SECONDS": 60,
        "PHOTO_STALE_SECONDS": 900,
        "PUBLISH_STALE_SECONDS": 600,
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
        # Roles that must use a second factor (TOTP) with a password; anyone may.
        "SECOND_FACTOR_ROLES": ["admin", "pr"],
        # Invitation and password-reset links.
        "ACCOUNT_INVITE_HOURS": 7 * 24,
        "PASSWORD_RESET_MINUTES": 60,
        # School sign-in (OpenID Connect): plain-http issuers only for tests on loopback.
        "OIDC_ALLOW_HTTP": False,
        # Consent links.
        "MAIL_SERVER": "",
        "MAIL_PORT": 25,
        "MAIL_USE_TLS": False,
        "MAIL_USERNAME": "",
        "MAIL_PASSWORD": "",
        "MAIL_FROM": "consentflow@localhost",
        # The address families reach the app at; every link in mail and letters
        # starts with it. Required outside debug/testing when links are sent.
        "PUBLIC_BASE_URL": "",
        # Only for a demo on one machine (`make run` sets it): accept a loopback
        # PUBLIC_BASE_URL outside debug. Never in a real install.
        "ALLOW_LOOPBACK_LINKS": False,
        # i18n
        "BABEL_DEFAULT_LOCALE": "nl",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Amsterdam",
        "LANGUAGES": ["nl", "en"],
        # Retention (days), SPEC §7.
        "RETENTION_REJECTED_ORIGINALS_DAYS": 30,
        "RETENTION_ENCODINGS_GRACE_DAYS": 7,
    }


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(name: str, raw: str, current: Any) -> Any:
    """Interpret an environment string with the type of the setting's default.

    Not Flask's ``from_prefixed_env``: it reads values as JSON, so ``off``
    would stay the (true) string "off" and a list would need JSON brackets
    in a systemd unit. Typed by the default, a value that does not fit is
    refused at start-up with the setting's name instead of misread.
    """
    value = raw.strip()
    try:
        if isinstance(current, bool):
            if value.lower() not in _TRUE | _FALSE:
                raise ValueError(value)
            return value.lower() in _TRUE
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
    except ValueError:
        kind = "on/off" if isinstance(current, bool) else "a number"
        raise ConfigError(f"CONSENTFLOW_{name} must be {kind}, not {raw!r}.") from None
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
            app.config[name] = _coerce(name, raw, app.config.get(name))
    if overrides:
        app.config.update(overrides)
    _check(app)


DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


def _is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"} or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def public_base_url(config: Mapping[str, Any]) -> str:
    """PUBLIC_BASE_URL, checked: the start of every link mailed or printed for families.

    Debug and tests fall back to the development server; in production a
    missing, malformed or loopback address is refused, so no family ever gets
    a link to localhost.
    """
    raw = str(config.get("PUBLIC_BASE_URL") or "").strip().rstrip("/")
    relaxed = bool(config.get("TESTING") or config.get("DEBUG"))
    if not raw:
        if relaxed:
            return DEVELOPMENT_BASE_URL
        raise ConfigError(
            "PUBLIC_BASE_URL is not set: links for families cannot be made. Set "
            "CONSENTFLOW_PUBLIC_BASE_URL to the address families reach the app at, "
            "e.g. https://toestemming.school.nl.")
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"PUBLIC_BASE_URL {raw!r} is not an http(s) address.")
    if not relaxed and _is_loopback(parts.hostname) and not config.get("ALLOW_LOOPBACK_LINKS"):
        raise ConfigError(
            f"PUBLIC_BASE_URL {raw!r} is a loopback address that families cannot reach; "
            "set it to the school's public address.")
    return raw


def _check(app: Flask) -> None:
    relaxed = app.config.get("TESTING") or app.debug
    if app.config.get("PUBLIC_BASE_URL"):
        public_base_url({**app.config, "DEBUG": app.debug})  # refuse a bad address at start-up
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
