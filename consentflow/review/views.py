"""Review pages (pr): album queues, the photo review page, face-crop queue, previews.

Thin: parse a form, call one service, commit or roll back, redirect. A
conflict (another reviewer changed the photo) rolls back and says so.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from consentflow.auth.access import (
    current_actor,
    get_owned,
    require_role,
    require_school,
)
from consentflow.errors import DomainError, NotFound, user_message
from consentflow.extensions import db
from consentflow.home.views import Tile, add_tile
from consentflow.models import Album, Face, Photo, utcnow
from consentflow.photos.boxes import Box
from consentflow.photos.derived import DISPLAY_SIDE, ImageUnavailable, check_renderable, derived_image
from consentflow.photos.imaging import is_video_type
from consentflow.photos.storage import storage_from_config
from consentflow.photos.uploads import upload_limits
from consentflow.photos.views import unavailable_image
from consentflow.publish.forms import PublishForm
from consentflow.publish.refusals import refusal_panels
from consentflow.publish.service import approve_purpose, preview_derivative
from consentflow.publish.video import preview_status
from consentflow.review import service
from consentflow.review.bulk import decide_faces
from consentflow.review.crops import crop_key, face_crop
from consentflow.review.forms import (
    BulkForm,
    DrawFaceForm,
    FaceDecisionForm,
    PurposeForm,
    VersionedForm,
)
from consentflow.review.viewmodels import (
    album_face_counts,
    album_photos,
    album_queue,
    face_queue,
    photo_page,
    review_albums,
)

bp = Blueprint("review", __name__, url_prefix="/review")

add_tile(Tile(_l("Review"), _l("Check faces, approve and publish photos."), "review.index",
              frozenset({"pr"})))


def _storage() -> Any:
    return storage_from_config(current_app.config)


def _back(default: str) -> Any:
    target = request.form.get("next") or ""
    # Only paths of this site: never an open redirect.
    if not target.startswith("/") or target.startswith("//"):
        target = default
    return redirect(target, code=303)


def _message(err: DomainError) -> str:
    """The service's message in the reviewer's language (the services speak English msgids)."""
    return user_message(err)


def _run(action: Any) -> bool:
    """Run a service call; commit on success, roll back and flash on a domain error."""
    try:
        action()
    except DomainError as err:
        db.session.rollback()
        flash(_message(err), "error")
        return False
    db.session.commit()
    return True


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or \
        request.headers.get("X-Requested-With") == "fetch"


def _owned_face(face_id: int) -> tuple[Face, Photo]:
    """A face and its photo, if the photo belongs to the current school (else 404)."""
    face = db.session.get(Face, face_id)
    if face is None:
        abort(404)
    return face, get_owned(Photo, face.photo_id)


@bp.route("/")
@require_role("pr")
def index() -> Any:
    return render_template("review/index.html", rows=review_albums(db.session, require_school().id))


@bp.route("/album/<int:album_id>")
@require_role("pr")
def album(album_id: int) -> Any:
    alb = get_owned(Album, album_id)
    return render_template("review/album.html", album=alb, queue=album_queue(db.session, alb.id),
                           photos=album_photos(db.session, alb.id),
                           face_counts=album_face_counts(db.session, alb.id))


@bp.route("/album/<int:album_id>/faces")
@require_role("pr")
def faces(album_id: int) -> Any:
    alb = get_owned(Album, album_id)
    return render_template("review/faces.html", album=alb, rows=face_queue(db.session, alb.id),
                           form=FaceDecisionForm())


@bp.route("/photo/<int:photo_id>")
@require_role("pr")
def photo(photo_id: int) -> Any:
    found = get_owned(Photo, photo_id)
    page = photo_page(db.session, found, request.args.get("channel"), utcnow().date())
    query = request.args.get("q", "").strip()
    wanted = request.args.get("face", type=int)
    # The face the side panel acts on: the one asked for, else the first to check.
    current = next((f for f in page["grid"] if f["id"] == wanted),
                   page["grid"][0] if page["grid"] else None)
    results = service.search_people(db.session, require_school().id, query) if query else []
    video_preview = None
    if page["is_video"] and found.state in service.REVIEWABLE_STATES:
        state, _key, percent = preview_status(db.session, _storage(), found,
                                              page["active_channel"], utcnow())
        video_preview = {"state": state, "percent": percent}
    return render_template(
        "review/photo.html", page=page, query=query, results=results, current=current,
        video_preview=video_preview or {"state": "unavailable", "percent": 0},
        form=FaceDecisionForm(), draw_form=DrawFaceForm(), purpose_form=PurposeForm(),
        publish_form=PublishForm(), version_form=VersionedForm(),
        refusals=refusal_panels(db.session, found),
    )


@bp.route("/photo/<int:photo_id>/people.json")
@require_role("pr")
def people(photo_id: int) -> Any:
    """Live search for "assign": people of this school only, as JSON."""
    get_owned(Photo, photo_id)
    found = service.search_people(db.session, require_school().id, request.args.get("q", ""))
    return jsonify({"people": [{"id": p.id, "name": p.full_name, "number": p.external_id,
                                "group": p.group_name or ""} for p in found]})


@bp.route("/photo/<int:photo_id>/bulk", methods=["POST"])
@require_role("pr")
def bulk(photo_id: int) -> Any:
    """One decision for the selected faces of a photo (all or nothing)."""
    found = get_owned(Photo, photo_id)
    form = BulkForm()
    default = url_for("review.photo", photo_id=found.id)
    if not form.validate_on_submit():
        flash(_("The form was incomplete or expired; reload the page."), "error")
        return _back(default)
    face_ids = request.form.getlist("face_ids", type=int)
    try:
        done = decide_faces(
            db.session, actor=current_actor(), school_id=require_school().id, photo_id=found.id,
            face_ids=face_ids, action=form.action.data or "",
            expected_version=form.version.data, now=utcnow())
    except NotFound:
        db.session.rollback()
        abort(404)  # a face of another photo or school: its id reveals nothing
    except DomainError as err:
        db.session.rollback()
        flash(_message(err), "error")
        return _back(default)
    db.session.commit()
    flash(_("Saved for %(n)d face(s).", n=len(done)), "success")
    return _back(default)


@bp.route("/face/<int:face_id>/assign/<int:person_id>", methods=["POST"])
@require_role("pr")
def assign(face_id: int, person_id: int) -> Any:
    """Assign a person to a face; answers JSON to the live search (no page reload)."""
    face, found = _owned_face(face_id)
    form = VersionedForm()
    as_json = _wants_json()
    if not form.validate_on_submit():
        message = _("The form was incomplete or expired; reload the page.")
        if as_json:
            return jsonify({"ok": False, "message": message}), 400
        flash(message, "error")
        return _back(url_for("review.photo", photo_id=found.id))
    try:
        service.record_review(db.session, actor=current_actor(), school_id=require_school().id,
                              face_id=face.id, kind="assign", person_id=person_id,
                              expected_version=form.version.data, now=utcnow())
    except DomainError as err:
        db.session.rollback()
        if as_json:
            return jsonify({"ok": False, "message": _message(err)}), err.status_code
        flash(_message(err), "error")
        return _back(url_for("review.photo", photo_id=found.id, face=face.id))
    db.session.commit()
    if not as_json:
        flash(_("Saved."), "success")
        return _back(url_for("review.photo", photo_id=found.id, face=face.id))
    channel = request.args.get("channel")
    page = photo_page(db.session, found, channel, utcnow().date())
    row = next(f for f in page["faces"] if f["id"] == face.id)
    here = url_for("review.photo", photo_id=found.id, channel=page["active_channel"])
    return jsonify({"ok": True, "message": _("Saved."), "version": found.version,
                    "css": row["css"],
                    "tile": render_template("review/_tile.html", f=row, p=found, here=here)})


@bp.route("/photo/<int:photo_id>/image")
@require_role("pr")
def image(photo_id: int) -> Any:
    """The original for the reviewer: re-encoded, reduced, with no metadata; cached."""
    found = get_owned(Photo, photo_id)
    # A video has no frame to show here; it is never decoded as an image.
    if found.storage_key is None or is_video_type(found.media_type):
        abort(404)
    try:
        data = derived_image(_storage(), found, DISPLAY_SIDE, upload_limits(current_app.config))
    except ImageUnavailable as err:
        return unavailable_image(err)
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.route("/face/<int:face_id>/crop")
@require_role("pr")
def crop(face_id: int) -> Any:
    """A face with some margin, cached: a group photo decodes its original once, not per face."""
    face, found = _owned_face(face_id)
    if is_video_type(found.media_type):
        # A track's crop was cut from its best frame when the video was processed.
        storage = _storage()
        key = crop_key(found, face)
        if found.storage_key is None or not storage.exists(key):
            abort(404)
        response = Response(storage.read(key), mimetype="image/jpeg")
        response.headers["Cache-Control"] = "private, max-age=600"
        return response
    if found.storage_key is None:
        abort(404)
    try:
        check_renderable(found, upload_limits(current_app.config))
    except ImageUnavailable as err:
        return unavailable_image(err)
    siblings = db.session.scalars(select(Face).where(Face.photo_id == found.id))
    response = Response(face_crop(_storage(), found, face, siblings), mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=600"
    return response


@bp.route("/photo/<int:photo_id>/preview/<channel>")
@require_role("pr")
def preview(photo_id: int, channel: str) -> Any:
    found = get_owned(Photo, photo_id)
    try:
        # An impossible size (a row from before the limits) is refused before any decoding.
        check_renderable(found, upload_limits(current_app.config))
    except ImageUnavailable as err:
        if err.too_large:
            return unavailable_image(err)
    try:
        data = preview_derivative(db.session, school_id=require_school().id, photo_id=found.id,
                                  channel=channel, storage=_storage(), now=utcnow())
    except DomainError as err:
        abort(err.status_code if err.status_code in (400, 404, 409) else 400)
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/face/<int:face_id>/decide", methods=["POST"])
@require_role("pr")
def decide(face_id: int) -> Any:
    face, found = _owned_face(face_id)
    default = url_for("review.photo", photo_id=found.id)
    form = FaceDecisionForm()
    if not form.validate_on_submit():
        flash(_("The form was incomplete or expired; reload the page."), "error")
        return _back(default)
    ok = _run(lambda: service.record_review(
        db.session, actor=current_actor(), school_id=require_school().id, face_id=face.id,
        kind=form.kind.data or "", person_id=form.person_id.data, note=form.note.data,
        expected_version=form.version.data, now=utcnow()))
    if ok:
        flash(_("Saved."), "success")
    return _back(default)


@bp.route("/face/<int:face_id>/undo", methods=["POST"])
@require_role("pr")
def undo(face_id: int) -> Any:
    face, found = _owned_face(face_id)
    form = VersionedForm()
    if form.validate_on_submit():
        _run(lambda: service.undo_review(db.session, actor=current_actor(),
                                         school_id=require_school().id, face_id=face.id,
                                         expected_version=form.version.data, now=utcnow()))
    return _back(url_for("review.photo", photo_id=found.id))


@bp.route("/photo/<int:photo_id>/draw", methods=["POST"])
@require_role("pr")
def draw(photo_id: int) -> Any:
    found = get_owned(Photo, photo_id)
    form = DrawFaceForm()
    if not form.validate_on_submit():
        flash(_("Draw a box around the missed face first."), "error")
        return _back(url_for("review.photo", photo_id=found.id))
    box = Box(form.left.data or 0, form.top.data or 0, form.right.data or 0, form.bottom.data or 0)
    if _run(lambda: service.draw_face(db.session, actor=current_actor(),
                                      school_id=require_school().id, photo_id=found.id, box=box,
                                      person_id=form.person_id.data,
                                      expected_version=form.version.data, now=utcnow())):
        flash(_("Face added; it is blurred until you identify the person."), "success")
    return _back(url_for("review.photo", photo_id=found.id))


@bp.route("/photo/<int:photo_id>/purpose/<channel>", methods=["POST"])
@require_role("pr")
def purpose(photo_id: int, channel: str) -> Any:
    found = get_owned(Photo, photo_id)
    form = PurposeForm()
    default = url_for("review.photo", photo_id=found.id, channel=channel)
    if not form.validate_on_submit():
        flash(_("The form was incomplete or expired; reload the page."), "error")
        return _back(default)
    school_id = require_school().id
    action = form.action.data
    result: dict[str, Any] = {}

    def run() -> None:
        if action == "approve":
            result["pp"] = approve_purpose(db.session, actor=current_actor(), school_id=school_id,
                                           photo_id=found.id, channel=channel,
                                           expected_version=form.version.data, now=utcnow())
        elif action in ("block", "unblock"):
            service.set_purpose_block(db.session, actor=current_actor(), school_id=school_id,
                                      photo_id=found.id, channel=channel,
                                      blocked=action == "block", reason=form.reason.data,
                                      expected_version=form.version.data, now=utcnow())
        elif action == "reject":
            service.reject_photo(db.session, actor=current_actor(), school_id=school_id,
                                 photo_id=found.id, reason=form.reason.data or "",
                                 expected_version=form.version.data, now=utcnow())
        else:
            abort(400)

    if _run(run):
        pp = result.get("pp")
        if pp is not None and pp.status == "blocked":
            flash(_("Blocked for this purpose: %(reason)s", reason=pp.reason), "warning")
        else:
            flash(_("Saved."), "success")
    return _back(default)
