"""Finished values for a refused publication: which faces, why, and what the reviewer can do.

The purpose keeps the refusal as codes and face ids (``PhotoPurpose.refusal``);
this turns them into translated sentences, numbers as on the review page,
positions on the photo, and the remedies that apply to each face.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.models import Photo, PhotoPurpose
from consentflow.photos.imaging import is_video_type
from consentflow.photos.video import clock
from consentflow.publish.redaction import redaction_choices
from consentflow.review.rules import people_names, resolve_faces

REFUSAL_TEXT = {
    "consent_changed": _l("Not published: the consent of a person in this photo changed since "
                          "approval. Review the photo again."),
    "leak": _l("Not published: the check on the redacted photo still found a face of someone "
               "who must be blurred. The faces are marked in red on the photo; each has its "
               "remedy below."),
    "key_missing": _l("Not published: the face key is missing, so the blurred people cannot be "
                      "compared with their reference portraits. Ask the administrator to restore "
                      "the key; the approval still stands."),
    "reference_unreadable": _l("Not published: a reference portrait of a blurred person cannot be "
                               "decrypted, so the check cannot be completed. Ask the administrator "
                               "to check the face key; the approval still stands."),
    "video_leak": _l("Not published: the check on the redacted video still found a face of "
                     "someone who must be blurred. The track and the time are listed below, "
                     "each with its remedy."),
    "failed": _l("Not published: the publication could not be completed. Try again; if it "
                 "happens again, tell the administrator."),
}


def _pct(value: int, total: int) -> float:
    return round(100.0 * value / total, 3) if total else 0.0


def _style(box: list[int], photo: Photo) -> str:
    left, top, right, bottom = box
    return (f"left:{_pct(left, photo.width)}%;top:{_pct(top, photo.height)}%;"
            f"width:{_pct(right - left, photo.width)}%;height:{_pct(bottom - top, photo.height)}%")


def _video_leak_text(leak: dict[str, Any], names: dict[int, str]) -> str:
    when = clock(float(leak["time"]))
    if leak.get("track") is not None:
        return _("Track %(n)d is still recognisable at %(t)s.", n=leak["track"], t=when)
    name = names.get(leak.get("person_id") or 0, _("a blurred person"))
    return _("At %(t)s a face still resembles %(name)s, who must be blurred.", t=when, name=name)


def _leak_text(leak: dict[str, Any], number: int | None, names: dict[int, str]) -> str:
    if leak.get("time") is not None:
        return _video_leak_text(leak, names)
    if leak["reason"] == "on_blurred_region" and number:
        return _("Face %(n)d is still found after blurring.", n=number)
    if leak["reason"] == "resembles_blurred_person":
        name = names.get(leak.get("person_id") or 0, _("a blurred person"))
        if number:
            return _("Face %(n)d still resembles %(name)s, who must be blurred.", n=number,
                     name=name)
        return _("A face here still resembles %(name)s, who must be blurred.", name=name)
    return _("A face that nobody reviewed was found here.")


def _remedies(leak: dict[str, Any], current: str | None, not_face: bool) -> list[str]:
    """Which remedies apply: stronger redaction, redraw/undo, add the face; block always.

    A video's faces are its tracks: a track can be redacted more strongly on
    every frame, but a box cannot be drawn by hand there, so a leak that no
    track covers leaves blocking.
    """
    video = leak.get("time") is not None
    if leak.get("face_id") is None:
        return ["block"] if video else ["add_face", "block"]
    if not_face:
        return ["undo_not_face", "block"]
    stronger = [m for m in ("wide", "solid") if m != current]
    return [*stronger, "block"] if video else [*stronger, "redraw", "block"]


def refusal_panels(session: Session, photo: Photo) -> list[dict[str, Any]]:
    """One panel per purpose whose last publication attempt was refused or failed."""
    rows = [pp for pp in session.scalars(
        select(PhotoPurpose).where(PhotoPurpose.photo_id == photo.id).order_by(PhotoPurpose.id))
        if pp.refusal and pp.status != "publishing"]
    if not rows:
        return []
    resolved = resolve_faces(session, photo.id)
    number = {r.face.id: i + 1 for i, r in enumerate(resolved)}
    not_faces = {r.face.id for r in resolved if r.not_face}
    how = redaction_choices(session, photo.id, resolved)
    people = people_names(session, [leak.get("person_id") for pp in rows
                                    for leak in (pp.refusal or {}).get("leaks", []) if leak.get("person_id")])
    block_label = (_("Block the video for this purpose") if is_video_type(photo.media_type)
                   else _("Block the photo for this purpose"))
    panels = []
    for pp in rows:
        leaks = []
        for leak in (pp.refusal or {}).get("leaks", []):
            face_id = leak.get("face_id")
            face_id = face_id if face_id in number else None
            leaks.append({
                "face_id": face_id,
                "number": number.get(face_id or 0),
                "box": leak["box"],
                "style": _style(leak["box"], photo),
                "text": _leak_text(leak, number.get(face_id or 0), people),
                "remedies": _remedies({**leak, "face_id": face_id}, how.get(face_id or 0),
                                      face_id in not_faces),
            })
        code = (pp.refusal or {}).get("code", "failed")
        panels.append({"channel": pp.purpose, "message": str(REFUSAL_TEXT.get(code, REFUSAL_TEXT["failed"])),
                       "leaks": leaks, "block_label": block_label})
    return panels
