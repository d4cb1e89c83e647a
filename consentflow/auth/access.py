"""The one place that decides whether the current user may act in a school.

Every view (blueprints and Flask-Admin) goes through ``require_role`` or
``has_role`` and loads school-owned objects with ``get_owned``, which answers
404 for another school's object so ids of other schools reveal nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, session
from flask_login import current_user
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.extensions import db
from consentflow.models import School, User

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

SCHOOL_SESSION_KEY = "school_id"


def roles_of(user: User, school: School) -> set[str]:
    """The roles a user holds in a school (board administrators are admin everywhere on their board)."""
    roles = {m.role for m in user.memberships if m.school_id == school.id}
    if user.board_admin_of_id is not None and user.board_admin_of_id == school.board_id:
        roles.add("admin")
    return roles


def schools_of(user: User) -> list[School]:
    ids = {m.school_id for m in user.memberships}
    stmt = select(School).where(School.id.in_(ids))
    if user.board_admin_of_id is not None:
        stmt = select(School).where(
            (School.id.in_(ids)) | (School.board_id == user.board_admin_of_id)
        )
    return list(db.session.scalars(stmt.order_by(School.name)))


def current_school() -> School | None:
    """The school the user is working in, validated against their memberships."""
    if "current_school" in g:
        return g.current_school  # type: ignore[no-any-return]
    school: School | None = None
    if current_user.is_authenticated:
        allowed = schools_of(current_user)
        wanted = session.get(SCHOOL_SESSION_KEY)
        school = next((s for s in allowed if s.id == wanted), None) or (allowed[0] if allowed else None)
    g.current_school = school
    return school


def current_roles() -> set[str]:
    school = current_school()
    if school is None or not current_user.is_authenticated:
        return set()
    return roles_of(current_user, school)


def has_role(*roles: str) -> bool:
    return bool(current_roles() & set(roles))


def require_school() -> School:
    school = current_school()
    if school is None:
        abort(403)
    return school


def require_role(*roles: str) -> Callable[[F], F]:
    """Decorator: login required, a current school, and one of ``roles`` in it."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                from consentflow.extensions import login_manager

                return login_manager.unauthorized()
            require_school()
            if not has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def get_owned(model: type[T], object_id: Any) -> T:
    """Load an object of the current school, or 404 (also for other schools' objects)."""
    school = require_school()
    obj = db.session.get(model, object_id)
    if obj is None or getattr(obj, "school_id", None) != school.id:
        abort(404)
    return obj


def current_actor() -> Actor:
    if current_user.is_authenticated:
        return Actor(current_user.id, current_user.email)
    return Actor.system("anonymous")

