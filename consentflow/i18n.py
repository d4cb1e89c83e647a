"""Locale choice: the user's pick in this session, then the account, then Dutch.

A Dutch school's pages are Dutch unless someone switches; browsers' language
headers are not followed because staff PCs are often set to English.
"""

from __future__ import annotations

from flask import current_app, has_request_context, session
from flask_login import current_user


def select_locale() -> str:
    languages: list[str] = current_app.config["LANGUAGES"]
    if not has_request_context():
        # CLI commands and jobs (e.g. the roster import report): the school's default.
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return str(current_user.locale)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])
