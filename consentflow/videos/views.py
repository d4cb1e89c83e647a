"""Video pages: thin views over ``publish.video`` and the preview job.

Every view checks the role (pr) and the school (``get_owned``); the
original is never served, only the redacted preview and the published file.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from consentflow.auth.access import current_actor, get_owned, require_role, require_school
from consentflow.errors import DomainError, user_message
from consentflow.extensions import db
from consentflow.jobs import enqueue
from consentflow.models import Photo, PhotoPurpose, Publication, utcnow
from consentflow.models.consent import CHANNELS
from consentflow.photos.imaging import is_video_type
from consentflow.photos.storage import storage_from_config
from consentflow.publish import video as video_service
from consentflow.publish.video import set_keep_audio
from consentflow.review.forms import VersionedForm
from consentflow.videos.streaming import stored_video_response

bp = Blueprint("videos", __name__, url_prefix="/videos")

PREVIEW_TEXT = {
    "ready": _l("The preview is ready."),
    "rendering": _l("Making the preview…"),
    "missing": _l("No preview of the current decisions yet."),
}


def _video(photo_id: int, channel: str) -> Photo:
    found = get_owned(Photo, photo_id)
    if not is_video_type(found.media_type) or channel not in CHANNELS:
        abort(404)
    return found


def _review_page(found: Photo, channel: str) -> Any:
    return redirect(url_for("review.photo", photo_id=found.id, channel=channel))


@bp.route("/<int:photo_id>/<channel>/audio", methods=["POST"])
@require_role("pr")
def audio(photo_id: int, channel: str) -> Any:
    """The reviewer's wish about the sound; the audio rule still decides at publication."""
    found = _video(photo_id, channel)
    if not VersionedForm().validate_on_submit():
        flash(_("The form was incomplete or expired; reload the page."), "error")
        return _review_page(found, channel)
    try:
        set_keep_audio(db.session, actor=current_actor(), school_id=require_school().id,
                       photo_id=found.id, channel=channel,
                       keep=request.form.get("keep_audio") == "1", now=utcnow())
    except DomainError as err:
        db.session.rollback()
        flash(user_message(err), "error")
        return _review_page(found, channel)
    db.session.commit()
    flash(_("Saved."), "success")
    return _review_page(found, channel)


@bp.route("/<int:photo_id>/<channel>/preview", methods=["POST"])
@require_role("pr")
def make_preview(photo_id: int, channel: str) -> Any:
    """Queue the redacted preview of the current decisions (rendered by the worker)."""
    found = _video(photo_id, channel)
    if not VersionedForm().validate_on_submit():
        flash(_("The form was incomplete or expired; reload the page."), "error")
        return _review_page(found, channel)
    if found.storage_key is None or found.state not in ("needs_review", "approved", "published"):
        flash(_("This video cannot be previewed."), "error")
        return _review_page(found, channel)
    pp = db.session.scalar(select(PhotoPurpose).where(PhotoPurpose.photo_id == found.id,
                                                      PhotoPurpose.purpose == channel))
    if pp is None:
        pp = PhotoPurpose(photo_id=found.id, purpose=channel, status="pending")
        db.session.add(pp)
    pp.render_done, pp.render_total = 0, None
    db.session.commit()
    enqueue("render_video_preview", found.id, channel)
    return redirect(url_for("review.photo", photo_id=found.id, channel=channel, preview=1))


def _preview_state(found: Photo, channel: str) -> tuple[str, str, int]:
    return video_service.preview_status(db.session, storage_from_config(current_app.config), found, channel,
                          utcnow())


@bp.route("/<int:photo_id>/<channel>/preview/status")
@require_role("pr")
def preview_status(photo_id: int, channel: str) -> Any:
    """Polled by the review page while the preview is made (publish.js's contract)."""
    found = _video(photo_id, channel)
    state, _key, percent = _preview_state(found, channel)
    return jsonify({"state": state, "progress": percent, "done": state != "rendering",
                    "message": str(PREVIEW_TEXT[state])})


@bp.route("/<int:photo_id>/<channel>/preview.mp4")
@require_role("pr")
def preview(photo_id: int, channel: str) -> Any:
    """The redacted preview of the current decisions (never the original)."""
    found = _video(photo_id, channel)
    state, key, _percent = _preview_state(found, channel)
    if state != "ready":
        abort(404)
    return stored_video_response(storage_from_config(current_app.config), key,
                                 cache_control="private, no-store")


@bp.route("/publication/<int:publication_id>.mp4")
@require_role("pr", "admin")  # like publish.image: an admin handling a takedown sees what must go
def published(publication_id: int) -> Any:
    """The published (redacted, checked) file inline, for the publication page's player."""
    pub = get_owned(Publication, publication_id)
    if not is_video_type(pub.photo.media_type):
        abort(404)
    storage = storage_from_config(current_app.config)
    if not pub.derivative_key or not storage.exists(pub.derivative_key):
        abort(404)
    return stored_video_response(storage, pub.derivative_key, cache_control="private, max-age=3600")
