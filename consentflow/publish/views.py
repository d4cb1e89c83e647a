"""Publication pages (pr): publish, publications, downloads, album bundle, takedowns.

Thin: parse, call one service, commit at the boundary, render. Publishing
only claims the purpose and enqueues: the worker renders, checks and
records (consentflow.publish.tasks); the review page polls ``status``.
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
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from consentflow.auth.access import current_actor, get_owned, has_role, require_role, require_school
from consentflow.errors import DomainError, Gone, user_message
from consentflow.exports import attachment
from consentflow.extensions import db
from consentflow.home.views import Tile, add_tile
from consentflow.jobs import enqueue
from consentflow.models import Album, Face, Photo, PhotoPurpose, Publication, TakedownTask, utcnow
from consentflow.models.consent import CHANNELS
from consentflow.photos.storage import storage_from_config
from consentflow.publish import subscriptions  # noqa: F401  (registers the takedown handler)
from consentflow.publish.background import publication_status, request_publication
from consentflow.publish.export import album_bundle, download_derivative
from consentflow.publish.forms import PublishForm, RedactionForm, TakedownDoneForm
from consentflow.publish.redaction import set_face_redaction
from consentflow.publish.state import publication_state
from consentflow.publish.takedown import (
    complete_takedown,
    count_open_takedowns,
    open_takedowns,
    recent_done_takedowns,
)
from consentflow.publish.viewmodels import album_publications, snapshot_rows, takedown_rows

bp = Blueprint("publish", __name__, url_prefix="/publish")

add_tile(Tile(_l("Takedowns"), _l("Publications to remove after a withdrawal."),
              "publish.takedowns", frozenset({"pr", "admin"}), count=count_open_takedowns))


PROGRESS = {"idle": 0, "queued": 10, "running": 50, "published": 100, "refused": 100, "failed": 100}
STATE_TEXT = {
    "idle": _l("Not being published."),
    "queued": _l("Waiting for the publisher…"),
    "running": _l("Redacting and checking the photo…"),
    "published": _l("Published."),
    "refused": _l("Not published: see the reasons on this page."),
    "failed": _l("Not published: see the reasons on this page."),
}


@bp.route("/photo/<int:photo_id>/<channel>", methods=["POST"])
@require_role("pr")
def publish(photo_id: int, channel: str) -> Any:
    """Claim the purpose and hand publication to the worker; the page shows its progress."""
    photo = get_owned(Photo, photo_id)
    form = PublishForm()
    back = redirect(url_for("review.photo", photo_id=photo.id, channel=channel))
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return back
    try:
        pp = request_publication(
            db.session, actor=current_actor(), school_id=require_school().id, photo_id=photo.id,
            channel=channel, channel_note=form.channel_note.data, now=utcnow())
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
        return back
    db.session.commit()
    enqueue("publish_purpose", pp.id)
    return back


@bp.route("/photo/<int:photo_id>/<channel>/status")
@require_role("pr")
def status(photo_id: int, channel: str) -> Any:
    """Where the publication of this photo for this purpose stands (polled by the page)."""
    photo = get_owned(Photo, photo_id)
    if channel not in CHANNELS:
        return jsonify({"error": "not_found"}), 404
    pp = db.session.scalar(select(PhotoPurpose).where(PhotoPurpose.photo_id == photo.id,
                                                      PhotoPurpose.purpose == channel))
    if pp is None:
        return jsonify({"state": "idle", "progress": 0, "done": True,
                        "message": str(STATE_TEXT["idle"]), "publication_url": None})
    result = publication_status(db.session, pp)
    state = result["state"]
    progress = PROGRESS[state]
    if state == "running" and pp.render_total:
        # A video reports frames rendered and checked; a photo has no steps to count.
        progress = 10 + int(85 * (pp.render_done or 0) / pp.render_total)
    return jsonify({
        "state": state, "progress": progress, "done": state not in ("queued", "running"),
        "message": str(STATE_TEXT[state]),
        "publication_url": (url_for("publish.publication", publication_id=result["publication_id"])
                            if result["publication_id"] else None),
    })


@bp.route("/face/<int:face_id>/redaction", methods=["POST"])
@require_role("pr")
def redaction(face_id: int) -> Any:
    """A remedy for a refusal: redact this face more strongly (wider area or solid fill)."""
    face = db.session.get(Face, face_id)
    if face is None:
        abort(404)
    photo = get_owned(Photo, face.photo_id)
    form = RedactionForm()
    back = redirect(url_for("review.photo", photo_id=photo.id, channel=form.channel.data or None))
    if not form.validate_on_submit():
        flash(_("The form was incomplete or expired; reload the page."), "error")
        return back
    try:
        set_face_redaction(db.session, actor=current_actor(), school_id=require_school().id,
                           face_id=face.id, mode=form.mode.data or "", now=utcnow())
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
        return back
    db.session.commit()
    flash(_("Saved: this face is now redacted more strongly. Check the preview, approve and "
            "publish again."), "success")
    return back


@bp.route("/publication/<int:publication_id>")
@require_role("pr", "admin")
def publication(publication_id: int) -> Any:
    """PR works here; an administrator following the takedown list may look (not download)."""
    pub = get_owned(Publication, publication_id)
    return render_template("publish/publication.html", publication=pub, photo=pub.photo,
                           album=pub.photo.album, state=publication_state(db.session, pub),
                           snapshot=snapshot_rows(pub), is_pr=has_role("pr"))


@bp.route("/publication/<int:publication_id>/download")
@require_role("pr")
def download(publication_id: int) -> Any:
    pub = get_owned(Publication, publication_id)
    try:
        data, filename = download_derivative(
            db.session, actor=current_actor(), school_id=require_school().id,
            publication_id=pub.id, storage=storage_from_config(current_app.config), now=utcnow())
    except Gone:
        db.session.rollback()
        raise  # 410 with the reason, on the error page
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
        return redirect(url_for("publish.publication", publication_id=pub.id))
    db.session.commit()
    response = Response(data, mimetype="video/mp4" if filename.endswith(".mp4") else "image/jpeg")
    response.headers["Content-Disposition"] = attachment(filename)
    return response


@bp.route("/publication/<int:publication_id>/image")
@require_role("pr", "admin")
def image(publication_id: int) -> Any:
    """The derivative inline (it is the published, redacted file; not the original)."""
    pub = get_owned(Publication, publication_id)
    storage = storage_from_config(current_app.config)
    if not pub.derivative_key or not storage.exists(pub.derivative_key):
        return Response(status=404)
    response = Response(storage.read(pub.derivative_key), mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.route("/album/<int:album_id>")
@require_role("pr")
def album(album_id: int) -> Any:
    alb = get_owned(Album, album_id)
    return render_template("publish/album.html", album=alb,
                           rows=album_publications(db.session, alb.id))


@bp.route("/album/<int:album_id>/bundle.zip")
@require_role("pr")
def bundle(album_id: int) -> Any:
    alb = get_owned(Album, album_id)
    data = album_bundle(db.session, actor=current_actor(), school_id=require_school().id,
                        album_id=alb.id, storage=storage_from_config(current_app.config),
                        now=utcnow())
    db.session.commit()
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = attachment(f"album-{alb.id}-bundle.zip")
    return response


@bp.route("/takedowns")
@require_role("pr", "admin")
def takedowns() -> Any:
    """PR removes and records; an administrator sees the same list (the count is in their menu)."""
    school = require_school()
    return render_template(
        "publish/takedowns.html", open_rows=takedown_rows(db.session, open_takedowns(db.session, school.id)),
        done_rows=takedown_rows(db.session, recent_done_takedowns(db.session, school.id)),
        form=TakedownDoneForm(), can_complete=has_role("pr"),
    )


@bp.route("/takedowns/<int:task_id>/done", methods=["POST"])
@require_role("pr")
def takedown_done(task_id: int) -> Any:
    task = get_owned(TakedownTask, task_id)
    form = TakedownDoneForm()
    if not form.validate_on_submit():
        flash(_("Say where and how the image was removed."), "error")
        return redirect(url_for("publish.takedowns"))
    try:
        complete_takedown(db.session, actor=current_actor(), school_id=require_school().id,
                          task_id=task.id, note=form.note.data or "", now=utcnow())
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
        return redirect(url_for("publish.takedowns"))
    db.session.commit()
    flash(_("Takedown recorded."), "success")
    return redirect(url_for("publish.takedowns"))
