"""Domain errors raised by services, and their mapping onto HTTP responses."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """Base class: a business rule refused the request."""

    status_code = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message or self.__class__.__doc__ or "Error"


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

    return gettext(err.message) if err.message else ""


def register_error_handlers(app: Flask) -> None:
    """Render domain errors and HTTP errors with the site's error page."""

    def _render(code: int, name: str, message: str):  # type: ignore[no-untyped-def]
        # API clients get JSON for every error, also for paths no route matched.
        if request.path.startswith("/api/v1/"):
            return jsonify({"error": name, "message": message}), code
        return render_template("errors/error.html", code=code, message=message), code

    @app.errorhandler(DomainError)
    def _domain(err: DomainError):  # type: ignore[no-untyped-def]
        message = err.message if request.path.startswith("/api/v1/") else user_message(err)
        return _render(err.status_code, type(err).__name__.lower(), message)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):  # type: ignore[no-untyped-def]
        if err.code is None or err.code < 400:
            return err
        return _render(err.code, (err.name or "error").lower().replace(" ", "_"),
                       err.description or "")
