"""JSON API v1 for the photo pipeline: albums, upload, status, faces and decisions (SPEC §6).

Thin, like the web views: authenticate the bearer token, load objects of the
token's school, call the same photo services (which audit every change),
commit, enqueue after the commit. Uploads never run face work in the
request. Review stays in the web UI on purpose: a human confirms every face
before it is shown, so the decision endpoint is read-only.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from consentflow.api.guard import ApiError, api, error_response, forget_login_session, owned, token_role
from consentflow.api.serialize import album_json, faces_json, photo_json
from consentflow.errors import DomainError
from consentflow.extensions import csrf, db
from consentflow.models import Album, Photo, utcnow
from consentflow.photos import service
from consentflow.photos.storage import storage_from_config
from consentflow.photos.tasks import requeue_stale
from consentflow.photos.uploads import receive_upload, upload_limits

v1 = Blueprint("v1", __name__, url_prefix="/v1")
# No cookie is ever accepted here (see guard.py), so there is nothing for CSRF to protect.
csrf.exempt(v1)

# Same roles as the photo pages: teachers for their own albums, PR for all of the school.
ALBUM_ROLES = ("teacher", "pr")
# Faces carry match results and consent-based decisions: never for teachers.
FACE_ROLES = ("pr",)
SPEC_FILE = Path(__file__).with_name("openapi.json")
ALBUM_FIELDS = {"title", "event_date", "description", "maker", "purposes"}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DOMAIN_CODES = {"NotFound": "not_found", "Forbidden": "forbidden", "InvalidState": "invalid_state",
                "ConflictError": "conflict", "ConsentMissing": "consent_missing"}
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}


@v1.before_request
def _no_login_session() -> None:
    forget_login_session()


@v1.errorhandler(ApiError)
def _api_error(err: ApiError) -> Any:
    return error_response(err.status, err.code, err.message, err.headers)


@v1.errorhandler(DomainError)
def _domain_error(err: DomainError) -> Any:
    db.session.rollback()
    code = DOMAIN_CODES.get(type(err).__name__, "invalid_input")
    return error_response(err.status_code, code, err.message)


@v1.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Any:
    status = err.code or 500
    return error_response(status, HTTP_CODES.get(status, "error"), err.description or "")


# --- helpers ---------------------------------------------------------------------


def _album(album_id: int) -> Album:
    """The album if the token's user may see it; 404 otherwise (also other teachers' albums)."""
    album = owned(Album, album_id)
    ctx = api()
    if not service.may_see_album(album, ctx.user.id, set(ctx.roles)):
        raise ApiError(404, "not_found", "There is no such object, or it is not visible to you.")
    return album


def _photo(photo_id: int) -> Photo:
    photo = owned(Photo, photo_id)
    _album(photo.album_id)
    return photo


def _album_input() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "Send a JSON object (Content-Type: application/json).")
    unknown = sorted(set(body) - ALBUM_FIELDS)
    if unknown:
        raise ApiError(400, "invalid_input", f"Unknown field(s): {', '.join(unknown)}.")
    for key in ("title", "event_date", "description", "maker"):
        if key in body and not isinstance(body[key], str):
            raise ApiError(400, "invalid_input", f"'{key}' must be a string.")
    raw_date = body.get("event_date") or ""
    if not ISO_DATE.match(raw_date):
        raise ApiError(400, "invalid_input", "'event_date' must be a date as YYYY-MM-DD.")
    try:
        event_date = date.fromisoformat(raw_date)
    except ValueError:
        raise ApiError(400, "invalid_input", "'event_date' is not a valid date.") from None
    purposes = body.get("purposes", [])
    if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
        raise ApiError(400, "invalid_input", "'purposes' must be a list of channel names.")
    if len(body.get("title", "")) > 200 or len(body.get("maker", "")) > 200:
        raise ApiError(400, "invalid_input", "'title' and 'maker' have at most 200 characters.")
    if len(body.get("description", "")) > 5000:
        raise ApiError(400, "invalid_input", "'description' has at most 5000 characters.")
    return {"title": body.get("title", ""), "event_date": event_date,
            "description": body.get("description", ""), "maker": body.get("maker", ""),
            "purposes": purposes}


# --- the specification --------------------------------------------------------------


@lru_cache(maxsize=1)
def _spec_bytes() -> bytes:
    # Parsed once, so a broken file fails loudly instead of being served.
    return json.dumps(json.loads(SPEC_FILE.read_text(encoding="utf-8")), indent=2).encode()


@v1.route("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3.1 description of this API; public, it contains no data."""
    return Response(_spec_bytes(), mimetype="application/json")


# --- albums ---------------------------------------------------------------------


@v1.route("/albums", methods=["GET"])
@token_role(*ALBUM_ROLES)
def list_albums() -> Any:
    ctx = api()
    albums = service.visible_albums(db.session, ctx.school.id, ctx.user.id, set(ctx.roles))
    return jsonify({"albums": [album_json(db.session, a) for a in albums]})


@v1.route("/albums", methods=["POST"])
@token_role(*ALBUM_ROLES)
def create_album() -> Any:
    ctx = api()
    album = service.create_album(db.session, ctx.actor, ctx.school.id, now=utcnow(),
                                 **_album_input())
    db.session.commit()
    response = jsonify(album_json(db.session, album, with_photos=True))
    response.status_code = 201
    response.headers["Location"] = url_for(".get_album", album_id=album.id)
    return response


@v1.route("/albums/<int:album_id>", methods=["GET"])
@token_role(*ALBUM_ROLES)
def get_album(album_id: int) -> Any:
    album = _album(album_id)
    # Someone is watching: put back photos whose worker vanished (as the status page does).
    requeue_stale(album.id)
    return jsonify(album_json(db.session, album, with_photos=True))


@v1.route("/albums/<int:album_id>/photos", methods=["POST"])
@token_role(*ALBUM_ROLES)
def upload_photos(album_id: int) -> Any:
    """One or many files; each is committed on its own, so one bad file loses nothing else."""
    album = _album(album_id)
    files = request.files.getlist("files") + request.files.getlist("file")
    if not files:
        raise ApiError(400, "no_file", "Send one or more files in the multipart field 'files'.")
    storage = storage_from_config(current_app.config)
    limits = upload_limits(current_app.config)
    results = []
    for file in files:
        # Face work happens in a worker, after the commit, never in this request.
        result = receive_upload(db.session, storage, api().actor, album, file.filename or "",
                                file.stream, limits, roles=api().roles)
        results.append(result.as_dict())
    counts = {s: sum(1 for r in results if r["status"] == s)
              for s in ("accepted", "duplicate", "rejected")}
    return jsonify({"album_id": album.id, "results": results, **counts})


# --- photos ---------------------------------------------------------------------


@v1.route("/photos/<int:photo_id>", methods=["GET"])
@token_role(*ALBUM_ROLES)
def get_photo(photo_id: int) -> Any:
    return jsonify(photo_json(db.session, _photo(photo_id)))


@v1.route("/photos/<int:photo_id>/faces", methods=["GET"])
@token_role(*FACE_ROLES)
def get_faces(photo_id: int) -> Any:
    """Faces and the per-channel decision, read-only: review and approval stay in the web UI."""
    return jsonify(faces_json(db.session, _photo(photo_id), utcnow().date()))
