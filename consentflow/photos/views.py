"""Photo pages: albums, upload, processing status, thumbnails, reference portraits.

Thin: parse, call one service, commit, enqueue after the commit (so a
worker never sees a photo that is not yet committed), render.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from consentflow.auth.access import current_actor, current_roles, get_owned, has_role, require_role, require_school
from consentflow.errors import DomainError, user_message
from consentflow.exports import attachment
from consentflow.extensions import db
from consentflow.home.views import Tile, add_tile
from consentflow.jobs import enqueue
from consentflow.models import Album, Face, Person, Photo, ReferenceFace, utcnow
from consentflow.photos import service
from consentflow.photos.crypto import cipher_from_config
from consentflow.photos.derived import THUMB_SIDE, ImageUnavailable, derived_image
from consentflow.photos.enrol import enrol_portrait, purge_reference_faces
from consentflow.photos.forms import CHANNEL_LABELS, STATE_LABELS, UPLOAD_MESSAGES, AlbumForm, CsrfOnlyForm
from consentflow.photos.imaging import is_video_type, video_placeholder
from consentflow.photos.storage import storage_from_config
from consentflow.photos.tasks import engine_settings, requeue_stale
from consentflow.photos.uploads import receive_upload, upload_limits

bp = Blueprint("photos", __name__, url_prefix="/photos")

add_tile(Tile(_l("Photos"), _l("Albums, upload and processing status."), "photos.albums",
              frozenset({"teacher", "pr"})))
add_tile(Tile(_l("Reference portraits"), _l("Enrol portraits for face matching."),
              "photos.references", frozenset({"admin"})))

ALBUM_ROLES = ("teacher", "pr")
MATCH_AGAIN_ROLES = ("admin", "pr")


def _album(album_id: int) -> Album:
    """The album, if this user may see it; 404 otherwise (also for other teachers' albums)."""
    album = get_owned(Album, album_id)
    if not service.may_see_album(album, current_user.id, current_roles()):
        abort(404)
    return album


def _photo(photo_id: int) -> Photo:
    photo = get_owned(Photo, photo_id)
    _album(photo.album_id)
    return photo


@bp.route("/")
@require_role(*ALBUM_ROLES)
def albums() -> Any:
    school = require_school()
    found = service.visible_albums(db.session, school.id, current_user.id, current_roles())
    progress = {a.id: service.album_progress(db.session, a.id) for a in found}
    return render_template("photos/albums.html", albums=found, progress=progress,
                           channel_labels=CHANNEL_LABELS)


@bp.route("/albums/new", methods=["GET", "POST"])
@require_role(*ALBUM_ROLES)
def new_album() -> Any:
    form = AlbumForm()
    if form.validate_on_submit():
        try:
            album = service.create_album(
                db.session, current_actor(), require_school().id, title=form.title.data or "",
                event_date=form.event_date.data, description=form.description.data or "",
                maker=form.maker.data or "", purposes=form.purposes.data or [], now=utcnow())
        except DomainError as err:
            db.session.rollback()
            form.title.errors.append(user_message(err))
        else:
            db.session.commit()
            flash(_("Album created. Add the photos now."), "success")
            return redirect(url_for("photos.upload", album_id=album.id))
    return render_template("photos/album_form.html", form=form)


def _album_view(album: Album) -> dict[str, Any]:
    photos = list(db.session.scalars(select(Photo).where(Photo.album_id == album.id)
                                     .order_by(Photo.id)))
    face_counts = dict(db.session.execute(
        select(Face.photo_id, func.count()).join(Photo, Photo.id == Face.photo_id)
        .where(Photo.album_id == album.id).group_by(Face.photo_id)).all())
    return {"album": album, "photos": photos, "face_counts": face_counts,
            "video_progress": service.video_progress(db.session, album.id),
            "progress": service.album_progress(db.session, album.id),
            "state_labels": STATE_LABELS, "channel_labels": CHANNEL_LABELS,
            "form": CsrfOnlyForm(), "may_match_again": has_role(*MATCH_AGAIN_ROLES)}


@bp.route("/albums/<int:album_id>")
@require_role(*ALBUM_ROLES)
def album(album_id: int) -> Any:
    return render_template("photos/album.html", **_album_view(_album(album_id)))


@bp.route("/albums/<int:album_id>/status.json")
@require_role(*ALBUM_ROLES)
def album_status(album_id: int) -> Any:
    album = _album(album_id)
    # Someone is watching: put back photos whose worker vanished.
    requeue_stale(album.id)
    data = service.album_progress(db.session, album.id).as_dict()
    states = dict(db.session.execute(select(Photo.id, Photo.state)
                                     .where(Photo.album_id == album.id)).all())
    videos = service.video_progress(db.session, album.id)
    data["photos"] = {str(pid): {"state": st, "label": str(STATE_LABELS.get(st, st)),
                                 "video_percent": videos.get(pid)}
                      for pid, st in states.items()}
    return jsonify(data)


@bp.route("/albums/<int:album_id>/upload", methods=["GET"])
@require_role(*ALBUM_ROLES)
def upload(album_id: int) -> Any:
    album = _album(album_id)
    limits = upload_limits(current_app.config)
    return render_template("photos/upload.html", album=album, form=CsrfOnlyForm(),
                           max_bytes=limits.max_bytes, max_video_bytes=limits.max_video_bytes)


def _message(result: service.UploadResult) -> str:
    if result.status == "rejected":
        return str(UPLOAD_MESSAGES.get(result.code, result.message))
    if result.status == "duplicate":
        return str(UPLOAD_MESSAGES["duplicate"])
    if result.video:
        return str(UPLOAD_MESSAGES["video"])
    return str(UPLOAD_MESSAGES["elsewhere"]) if result.also_in_albums else ""


@bp.route("/albums/<int:album_id>/upload", methods=["POST"])
@require_role(*ALBUM_ROLES)
def upload_post(album_id: int) -> Any:
    """One or many files; each is committed on its own, so one bad file loses nothing else."""
    album = _album(album_id)
    storage = storage_from_config(current_app.config)
    limits = upload_limits(current_app.config)
    results = []
    for file in request.files.getlist("files"):
        result = receive_upload(db.session, storage, current_actor(), album, file.filename or "",
                                file.stream, limits, roles=current_roles())
        item = result.as_dict()
        item["message"] = _message(result)
        results.append(item)
    wants_json = request.accept_mimetypes.best == "application/json" or request.is_json or \
        request.headers.get("X-Requested-With") == "fetch"
    if wants_json:
        status = 200 if results else 400
        return jsonify({"results": results,
                        "error": None if results else str(UPLOAD_MESSAGES["no_file"])}), status
    accepted = sum(1 for r in results if r["status"] == "accepted")
    flash(_("%(n)d photo(s) added.", n=accepted), "success")
    for r in results:
        if r["status"] != "accepted" or r["message"]:
            flash(f"{r['filename']}: {r['message']}",
                  "error" if r["status"] == "rejected" else "warning")
    return redirect(url_for("photos.album", album_id=album.id))


@bp.route("/albums/<int:album_id>/photos/<int:photo_id>/retry", methods=["POST"])
@require_role(*ALBUM_ROLES)
def retry_photo(album_id: int, photo_id: int) -> Any:
    album = _album(album_id)
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    try:
        photo = service.get_photo_in_album(db.session, album, photo_id)
        service.reprocess_photo(db.session, current_actor(), photo, now=utcnow())
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
        return redirect(url_for("photos.album", album_id=album.id))
    db.session.commit()
    enqueue("process_photo", photo_id)
    flash(_("The photo is queued again."), "success")
    return redirect(url_for("photos.album", album_id=album.id))


@bp.route("/albums/<int:album_id>/retry-failed", methods=["POST"])
@require_role(*ALBUM_ROLES)
def retry_failed(album_id: int) -> Any:
    album = _album(album_id)
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    photos = service.photos_to_reprocess(db.session, album.school_id, album_id=album.id,
                                         failed_only=True)
    for photo in photos:
        service.reprocess_photo(db.session, current_actor(), photo, now=utcnow())
    db.session.commit()
    for photo in photos:
        enqueue("process_photo", photo.id)
    flash(_("%(n)d photo(s) queued again.", n=len(photos)), "success")
    return redirect(url_for("photos.album", album_id=album.id))


def _queue_match_again(album_id: int | None) -> None:
    """Hand "match again" to the worker; the progress bar follows the photos."""
    actor = current_actor()
    enqueue("match_again", require_school().id, album_id, actor.id, actor.label)


@bp.route("/albums/<int:album_id>/match-again", methods=["POST"])
@require_role(*MATCH_AGAIN_ROLES)
def album_match_again(album_id: int) -> Any:
    """Apply newly enrolled portraits to this album's photos in review; decisions are kept."""
    album = get_owned(Album, album_id)
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    _queue_match_again(album.id)
    flash(_("Matching again has started; every reviewer decision is kept."), "success")
    if not has_role(*ALBUM_ROLES):
        return redirect(url_for("photos.references"))
    return redirect(url_for("photos.album", album_id=album.id))


@bp.route("/reference/match-again", methods=["POST"])
@require_role(*MATCH_AGAIN_ROLES)
def school_match_again() -> Any:
    """Apply newly enrolled portraits to every photo of the school still in review."""
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    _queue_match_again(None)
    flash(_("Matching again has started; every reviewer decision is kept."), "success")
    return redirect(url_for("photos.references") + "#progress")


@bp.route("/reference/status.json")
@require_role(*MATCH_AGAIN_ROLES)
def school_status() -> Any:
    """Processing progress over the whole school (the bar on the reference portraits page)."""
    school = require_school()
    return jsonify(service.school_progress(db.session, school.id).as_dict())


def _private_file(data: bytes, mimetype: str, **headers: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers.update(headers)
    return response


@bp.route("/photo/<int:photo_id>/thumb")
@require_role(*ALBUM_ROLES)
def thumbnail(photo_id: int) -> Any:
    """A re-encoded, metadata-free thumbnail; teachers only for their own albums."""
    photo = _photo(photo_id)
    if not photo.storage_key:
        abort(404)
    if is_video_type(photo.media_type):
        # Nothing decodes videos: a generic placeholder, never a frame of the video.
        return _private_file(video_placeholder(THUMB_SIDE), "image/png")
    try:
        data = derived_image(storage_from_config(current_app.config), photo, THUMB_SIDE,
                             upload_limits(current_app.config))
    except ImageUnavailable as err:
        return unavailable_image(err)
    return _private_file(data, "image/jpeg")


def unavailable_image(err: ImageUnavailable) -> Response:
    """What an image URL answers for a photo no page can render: a clear 409, never a 500."""
    if not err.too_large:
        abort(404)
    response = Response(_("This photo is too large to show; upload a smaller version."),
                        status=409, mimetype="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/photo/<int:photo_id>/original")
@require_role("pr", "admin")
def original(photo_id: int) -> Any:
    """The original upload, for PR and admin only, always as a download."""
    photo = get_owned(Photo, photo_id)
    if not photo.storage_key:
        abort(404)
    data = storage_from_config(current_app.config).read(photo.storage_key)
    return _private_file(data, photo.media_type,
                         **{"Content-Disposition": attachment(photo.original_filename, "original")})


# --- reference portraits (admin) ------------------------------------------------


@bp.route("/reference/")
@require_role("admin")
def references() -> Any:
    school = require_school()
    people = list(db.session.scalars(
        select(Person).where(Person.school_id == school.id, Person.erased_at.is_(None))
        .order_by(Person.group_name, Person.last_name, Person.first_name)))
    counts = dict(db.session.execute(
        select(ReferenceFace.person_id, func.count()).where(ReferenceFace.school_id == school.id)
        .group_by(ReferenceFace.person_id)).all())
    return render_template("photos/references.html", people=people, counts=counts,
                           mode=school.biometric_mode, form=CsrfOnlyForm(),
                           progress=service.school_progress(db.session, school.id))


@bp.route("/reference/<int:person_id>", methods=["GET", "POST"])
@require_role("admin")
def reference_person(person_id: int) -> Any:
    """Enrol portraits of one person (several allowed, one face each)."""
    person = get_owned(Person, person_id)
    school = require_school()
    form = CsrfOnlyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        files = request.files.getlist("portraits")
        if not files:
            flash(str(UPLOAD_MESSAGES["no_file"]), "error")
        cipher = cipher_from_config(current_app.config)
        for file in files:
            data = file.stream.read(upload_limits(current_app.config).max_bytes + 1)
            try:
                enrol_portrait(db.session, cipher, current_actor(), school, person, data,
                               settings=engine_settings(), today=utcnow().date(), now=utcnow(),
                               limits=upload_limits(current_app.config))
            except DomainError as err:
                db.session.rollback()
                flash(f"{file.filename}: {user_message(err)}", "error")
            else:
                db.session.commit()
                flash(_("%(name)s: portrait enrolled.", name=file.filename), "success")
        return redirect(url_for("photos.reference_person", person_id=person.id))
    refs = list(db.session.scalars(select(ReferenceFace).where(
        ReferenceFace.person_id == person.id).order_by(ReferenceFace.id)))
    return render_template("photos/reference_person.html", person=person, refs=refs, form=form,
                           mode=school.biometric_mode)


@bp.route("/reference/<int:person_id>/delete", methods=["POST"])
@require_role("admin")
def reference_delete(person_id: int) -> Any:
    person = get_owned(Person, person_id)
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    count = purge_reference_faces(db.session, person.id, current_actor(), "deleted by admin",
                                  utcnow())
    db.session.commit()
    flash(_("%(n)d reference face(s) deleted.", n=count), "success")
    return redirect(url_for("photos.reference_person", person_id=person.id))
