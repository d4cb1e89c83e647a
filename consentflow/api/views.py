"""The API blueprint: the JSON API under /api/v1 and the token page under /api/tokens.

The token page is an ordinary logged-in web page (session and CSRF); the
JSON API is a nested blueprint that accepts bearer tokens only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from consentflow.api import service
from consentflow.api.forms import RevokeForm, TokenForm
from consentflow.api.v1 import v1
from consentflow.auth.access import current_actor, require_role, require_school
from consentflow.errors import DomainError, user_message
from consentflow.extensions import db
from consentflow.home.views import Tile, add_tile
from consentflow.models import utcnow

bp = Blueprint("api", __name__, url_prefix="/api")
bp.register_blueprint(v1)

# Anyone who may use the API may hold a token; what a token can do is decided per request.
TOKEN_ROLES = ("teacher", "pr", "admin")

add_tile(Tile(_l("API tokens"), _l("Personal tokens for the photo API."), "api.tokens",
              frozenset(TOKEN_ROLES)))


def _page(form: TokenForm, new_token: str | None = None, status: int = 200) -> Any:
    school = require_school()
    now = utcnow()
    tokens = [{"token": t, "status": service.token_status(t, now)}
              for t in service.user_tokens(db.session, current_user.id, school.id)]
    response = make_response(render_template(
        "api/tokens.html", form=form, tokens=tokens, new_token=new_token,
        revoke_form=RevokeForm(), school=school), status)
    # The new secret is on this page once: never keep it in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/tokens", methods=["GET"])
@require_role(*TOKEN_ROLES)
def tokens() -> Any:
    return _page(TokenForm())


@bp.route("/tokens", methods=["POST"])
@require_role(*TOKEN_ROLES)
def create_token() -> Any:
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        _token, raw = service.create_token(
            db.session, current_actor(), user_id=current_user.id, school_id=require_school().id,
            name=form.name.data or "", days=int(form.days.data or 0), now=utcnow())
    except DomainError as err:
        db.session.rollback()
        form.name.errors.append(user_message(err))
        return _page(form, status=400)
    db.session.commit()
    return _page(TokenForm(formdata=None), new_token=raw)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@require_role(*TOKEN_ROLES)
def revoke_token(token_id: int) -> Any:
    if not RevokeForm().validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("api.tokens"))
    # Only the user's own tokens in this school; anything else is "not found".
    token = service.get_user_token(db.session, current_user.id, require_school().id, token_id)
    service.revoke_token(db.session, current_actor(), token, now=utcnow())
    db.session.commit()
    flash(_("The token is revoked; requests with it are refused from now on."), "success")
    return redirect(url_for("api.tokens"))
