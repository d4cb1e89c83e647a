"""Bearer-token authentication for the JSON API: the API's ``require_role``.

The API authenticates with personal API tokens only. It never accepts the
login session cookie (so it needs no CSRF protection: a browser attaches
cookies to a cross-site request, never an ``Authorization`` header). Roles
and school are those of the token's user in the token's school, computed by
``consentflow.auth.access.roles_of``, the same rule the web pages use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import g, jsonify, request, session
from flask.typing import ResponseReturnValue

from consentflow.api.service import authenticate_token
from consentflow.audit.service import Actor
from consentflow.auth.access import roles_of
from consentflow.extensions import db, login_manager
from consentflow.models import ApiToken, School, User, utcnow

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

BEARER_HELP = "Send a personal API token as 'Authorization: Bearer <token>' (create one under /api/tokens)."


class ApiError(Exception):
    """An API refusal: rendered as ``{"error": code, "message": text}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> ResponseReturnValue:
    response = jsonify({"error": code, "message": message})
    response.status_code = status
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


@dataclass(frozen=True)
class ApiContext:
    token: ApiToken
    user: User
    school: School
    roles: frozenset[str]

    @property
    def actor(self) -> Actor:
        # The audit trail names the user and the token that acted for them.
        return Actor(self.user.id, f"{self.user.email} via API token #{self.token.id}"[:254])


def forget_login_session() -> None:
    """Make ``current_user`` anonymous for this request, whatever cookie was sent.

    Flask-Login loads the user lazily into ``g._login_user``; setting it
    first means no code reached from an API view can act on the cookie.
    """
    g._login_user = login_manager.anonymous_user()


def _authenticate() -> ApiContext:
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        if "_user_id" in session:
            raise ApiError(403, "session_not_accepted",
                           "The API does not accept the login session. " + BEARER_HELP)
        raise ApiError(401, "unauthorized", BEARER_HELP,
                       {"WWW-Authenticate": 'Bearer realm="consentflow"'})
    token = authenticate_token(db.session, raw, now=utcnow())
    if token is None:
        raise ApiError(401, "invalid_token", "The token is unknown, revoked or expired.",
                       {"WWW-Authenticate": 'Bearer realm="consentflow", error="invalid_token"'})
    # Keep "last used" even when the view itself writes nothing; the view's work is its own unit.
    db.session.commit()
    return ApiContext(token, token.user, token.school,
                      frozenset(roles_of(token.user, token.school)))


def token_role(*roles: str) -> Callable[[F], F]:
    """Decorator: a valid bearer token whose user holds one of ``roles`` in the token's school."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            ctx = _authenticate()
            if not ctx.roles & set(roles):
                raise ApiError(403, "forbidden",
                               "Your role in this school does not allow this request.")
            g.api_context = ctx
            return view(*args, **kwargs)

        # Read by the access tests, exactly like @require_role's marker.
        wrapped.required_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def api() -> ApiContext:
    return g.api_context  # type: ignore[no-any-return]


def owned(model: type[T], object_id: int) -> T:
    """An object of the token's school, or 404 (also for other schools' objects)."""
    obj = db.session.get(model, object_id)
    if obj is None or getattr(obj, "school_id", None) != api().school.id:
        raise ApiError(404, "not_found", "There is no such object, or it is not visible to you.")
    return obj
