"""Publication pages (pr): publish, publications, downloads, album bundle, takedowns.

Thin: parse, call one service, commit at the boundary, render. A refused
publication is committed too: the photo went back to review with the
reason, and that must not be lost.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from consentflow.auth.access import current_actor, get_owned, require_role, require_school
from consentflow.errors import DomainError
from consentflow.exports import attachment
from consentflow.extensions import db
from consentflow.home.views import Tile, add_tile
from consentflow.models import Album, Photo, Publication, TakedownTask, utcnow
from consentflow.photos.storage import storage_from_config
from consentflow.publish import subscriptions  # noqa: F401  (registers the takedown handler)
from consentflow.publish.export import album_bundle, download_derivative
from consentflow.publish.forms import PublishForm, TakedownDoneForm
from consentflow.publish.service import PublicationRefused, publish_photo
from consentflow.publish.takedown import complete_takedown, open_takedowns, recent_done_takedowns
from consentflow.publish.viewmodels import album_publications, takedown_rows

bp = Blueprint("publish", __name__, url_prefix="/publish")

add_tile(Tile(_l("Takedowns"), _l("Publications to remove after a withdrawal."),
              "publish.takedowns", frozenset({"pr"})))


def _cipher() -> Any:
    try:
        from consentflow.photos.crypto import cipher_from_config

        return cipher_from_config(current_app.config)
    except Exception:  # no key yet: the check still compares with the blurred faces themselves
        return None


@bp.route("/photo/<int:photo_id>/<channel>", methods=["POST"])
@require_role("pr")
def publish(photo_id: int, channel: str) -> Any:
    photo = get_owned(Photo, photo_id)
    form = PublishForm()
    back = redirect(url_for("review.photo", photo_id=photo.id))
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return back
    try:
        publication = publish_photo(
            db.session, actor=current_actor(), school_id=require_school().id, photo_id=photo.id,
            channel=channel, storage=storage_from_config(current_app.config), now=utcnow(),
            cipher=_cipher(), channel_note=form.channel_note.data,
        )
    except PublicationRefused as err:
        db.session.commit()  # keep the send-back to review and its audit event
        flash(_("Not published: %(reason)s", reason=err.message), "error")
        return back
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return back
    db.session.commit()
    flash(_("Published for %(channel)s.", channel=channel), "success")
    return redirect(url_for("publish.publication", publication_id=publication.id))


@bp.route("/publication/<int:publication_id>")
@require_role("pr")
def publication(publication_id: int) -> Any:
    pub = get_owned(Publication, publication_id)
    return render_template("publish/publication.html", publication=pub, photo=pub.photo,
                           album=pub.photo.album)


@bp.route("/publication/<int:publication_id>/download")
@require_role("pr")
def download(publication_id: int) -> Any:
    pub = get_owned(Publication, publication_id)
    try:
        data, filename = download_derivative(
            db.session, actor=current_actor(), school_id=require_school().id,
            publication_id=pub.id, storage=storage_from_config(current_app.config), now=utcnow())
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for("publish.publication", publication_id=pub.id))
    db.session.commit()
    response = Response(data, mimetype="image/jpeg")
    response.headers["Content-Disposition"] = attachment(filename)
    return response


@bp.route("/publication/<int:publication_id>/image")
@require_role("pr")
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
@require_role("pr")
def takedowns() -> Any:
    school = require_school()
    return render_template(
        "publish/takedowns.html", open_rows=takedown_rows(db.session, open_takedowns(db.session, school.id)),
        done_rows=takedown_rows(db.session, recent_done_takedowns(db.session, school.id)),
        form=TakedownDoneForm(),
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
        flash(err.message, "error")
        return redirect(url_for("publish.takedowns"))
    db.session.commit()
    flash(_("Takedown recorded."), "success")
    return redirect(url_for("publish.takedowns"))
