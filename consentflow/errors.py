"""Domain errors raised by services, and their mapping onto HTTP responses."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """Base class: a business rule refused the request."""

    status_code = 400

    def __init__(self, message: str = "", **params: Any) -> None:
        # ``message`` is the catalogue's msgid; ``params`` fill its %(name)s places, so a
        # message with values ("School year %(label)s overlaps ...") is still translatable.
        self.msgid = message or self.__class__.__doc__ or "Error"
        self.params = params
        self.message = self.msgid % params if params else self.msgid
        super().__init__(self.message)


class NotFound(DomainError):
    """The object does not exist or is not visible to you."""

    status_code = 404


class Forbidden(DomainError):
    """You do not have the role needed for this."""

    status_code = 403


class InvalidInput(DomainError):
    """The input is not valid."""

    status_code = 400


class InvalidState(DomainError):
    """The object is not in a state that allows this."""

    status_code = 409


class Gone(DomainError):
    """This is no longer available."""

    status_code = 410


class ConflictError(DomainError):
    """Someone else changed this in the meantime."""

    status_code = 409


class ConsentMissing(DomainError):
    """There is no consent that allows this."""

    status_code = 409


class SignerRuleViolation(InvalidInput):
    """The signer is not allowed to sign for this person on this date."""


def user_message(err: DomainError) -> str:
    """The error's message in the user's language.

    Services raise with English text (they know nothing of the request); the
    message is the catalogue's msgid, translated here where it is shown.
    """
    from flask_babel import gettext

    if not err.message:
        return ""
    if err.params:
        return gettext(err.msgid, **err.params)
    return gettext(err.msgid)


def _http_texts() -> dict[int, tuple[Any, Any]]:
    """(title, explanation) per HTTP status, in the user's language (werkzeug's are English)."""
    from flask_babel import lazy_gettext as _l

    return {
        400: (_l("Something went wrong"), _l("The request could not be understood. Go back and try again.")),
        401: (_l("Not allowed"), _l("Log in to see this page.")),
        403: (_l("Not allowed"), _l("You do not have the role needed for this page in this school.")),
        404: (_l("Not found"), _l("This page or object does not exist, or it is not visible to you.")),
        405: (_l("Not allowed"), _l("This page cannot be used this way. Use the links and buttons on the page.")),
        409: (_l("Conflict"), ""),
        410: (_l("No longer available"), _l("This is no longer available.")),
        413: (_l("Something went wrong"), _l("The file is too large.")),
        429: (_l("Something went wrong"), _l("Too many attempts. Wait a moment and try again.")),
        500: (_l("Something went wrong"), _l("An unexpected error occurred. Nothing was changed; try again later.")),
    }


def register_error_handlers(app: Flask) -> None:
    """Render domain errors and HTTP errors with the site's error page, in the user's language."""

    def _render(code: int, name: str, message: str):  # type: ignore[no-untyped-def]
        # API clients get JSON for every error, also for paths no route matched.
        if request.path.startswith("/api/v1/"):
            return jsonify({"error": name, "message": message}), code
        title, default = _http_texts().get(code, _http_texts()[500] if code >= 500 else _http_texts()[400])
        return render_template("errors/error.html", code=code, title=str(title),
                               message=message or str(default)), code

    @app.errorhandler(DomainError)
    def _domain(err: DomainError):  # type: ignore[no-untyped-def]
        message = err.message if request.path.startswith("/api/v1/") else user_message(err)
        return _render(err.status_code, type(err).__name__.lower(), message)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):  # type: ignore[no-untyped-def]
        if err.code is None or err.code < 400:
            return err
        name = (err.name or "error").lower().replace(" ", "_")
        if request.path.startswith("/api/v1/"):
            return _render(err.code, name, err.description or "")
        # werkzeug's default descriptions are English: pages say it in the user's language.
        custom = err.description if err.description != type(err).description else ""
        return _render(err.code, name, gettext_if_known(custom or ""))


def gettext_if_known(text: str) -> str:
    from flask_babel import gettext

    return gettext(text) if text else ""
