"""Values every page layout needs, computed once per request (no logic in templates)."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_babel import get_locale
from flask_login import current_user

from consentflow.auth.access import current_roles, current_school, schools_of


def layout_context() -> dict[str, Any]:
    authenticated = bool(getattr(current_user, "is_authenticated", False))
    from consentflow.home.views import TILES, tile_counts

    roles = current_roles() if authenticated else set()
    items = [t for t in TILES if t.roles & roles]
    school = current_school() if authenticated else None
    return {
        "nav_items": items,
        "nav_counts": tile_counts(items, school.id if school else None),
        "nav_school": school,
        "nav_schools": schools_of(current_user) if authenticated else [],
        "nav_roles": sorted(roles),
        "nav_languages": current_app.config["LANGUAGES"],
        "nav_locale": str(get_locale()),
        "nav_path": request.full_path.rstrip("?"),
    }
