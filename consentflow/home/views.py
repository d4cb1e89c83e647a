"""Start page: the tasks the user's roles allow in the current school."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from consentflow.auth.access import current_roles, current_school, schools_of
from consentflow.labels import role_label

bp = Blueprint("home", __name__)


@dataclass(frozen=True)
class Tile:
    title: str
    description: str
    endpoint: str
    roles: frozenset[str]
    # (session, school id) -> how many things wait here; shown as a badge in the menu and on the tile.
    count: Callable[[Any, int], int] | None = None


# Registered by feature blueprints as they are added; the start page shows
# the tiles whose roles intersect the user's roles in the current school.
TILES: list[Tile] = [
    Tile(_l("Management"), _l("People, guardians, consent forms, users."), "admin.index",
         frozenset({"admin"})),
    Tile(_l("Audit trail"), _l("Every change, hash-chained."), "auditevent.index_view",
         frozenset({"admin", "privacy"})),
]


def add_tile(tile: Tile) -> None:
    if tile not in TILES:
        TILES.append(tile)


@bp.route("/")
def index() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    roles = current_roles()
    tiles = [t for t in TILES if t.roles & roles]
    return render_template(
        "home/index.html", tiles=tiles, roles=[role_label(r) for r in sorted(roles)],
        school=current_school(), schools=schools_of(current_user),
    )


def tile_counts(tiles: list[Tile], school_id: int | None) -> dict[str, int]:
    """Badge counts per endpoint for the tiles that have one (only non-zero counts)."""
    from consentflow.extensions import db

    if school_id is None:
        return {}
    counts = {t.endpoint: t.count(db.session, school_id) for t in tiles if t.count is not None}
    return {endpoint: n for endpoint, n in counts.items() if n}
