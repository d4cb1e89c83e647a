"""The app refuses to start in production with a missing or default secret."""

from __future__ import annotations

import pytest

from consentflow import create_app
from consentflow.config import ConfigError


@pytest.mark.parametrize("secret", ["", "dev", "short"])
def test_refuses_insecure_secret(tmp_path, monkeypatch, secret) -> None:
    monkeypatch.delenv("CONSENTFLOW_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        create_app({"SECRET_KEY": secret, "INSTANCE_PATH": str(tmp_path), "QUEUE_BACKEND": "memory"})


def test_env_overrides_defaults(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CONSENTFLOW_LOGIN_MAX_FAILURES", "9")
    monkeypatch.setenv("CONSENTFLOW_SECRET_KEY", "a" * 40)
    app = create_app({"INSTANCE_PATH": str(tmp_path), "QUEUE_BACKEND": "memory"})
    assert app.config["LOGIN_MAX_FAILURES"] == 9
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_instance_override_reads_that_folders_config(tmp_path, monkeypatch) -> None:
    """The suite is isolated from the developer's instance/: an overridden
    instance folder is the only one whose config.py is read."""
    monkeypatch.delenv("CONSENTFLOW_INSTANCE_PATH", raising=False)
    (tmp_path / "config.py").write_text("LOGIN_MAX_FAILURES = 7\n")
    app = create_app({"INSTANCE_PATH": str(tmp_path), "QUEUE_BACKEND": "memory", "TESTING": True})
    assert app.instance_path == str(tmp_path)
    assert app.config["LOGIN_MAX_FAILURES"] == 7


def test_env_values_are_read_with_the_type_of_their_default(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CONSENTFLOW_SECRET_KEY", "a" * 40)
    monkeypatch.setenv("CONSENTFLOW_MAIL_USE_TLS", "on")
    monkeypatch.setenv("CONSENTFLOW_OIDC_ALLOW_HTTP", "off")
    monkeypatch.setenv("CONSENTFLOW_SECOND_FACTOR_ROLES", "admin, pr")
    app = create_app({"INSTANCE_PATH": str(tmp_path), "QUEUE_BACKEND": "memory"})
    assert app.config["MAIL_USE_TLS"] is True and app.config["OIDC_ALLOW_HTTP"] is False
    assert app.config["SECOND_FACTOR_ROLES"] == ["admin", "pr"]


@pytest.mark.parametrize(("name", "raw"), [("LOGIN_MAX_FAILURES", "five"), ("MAIL_USE_TLS", "maybe")])
def test_an_env_value_that_does_not_fit_stops_the_start_with_its_name(tmp_path, monkeypatch, name, raw) -> None:
    monkeypatch.setenv("CONSENTFLOW_SECRET_KEY", "a" * 40)
    monkeypatch.setenv(f"CONSENTFLOW_{name}", raw)
    with pytest.raises(ConfigError, match=f"CONSENTFLOW_{name}"):
        create_app({"INSTANCE_PATH": str(tmp_path), "QUEUE_BACKEND": "memory"})
