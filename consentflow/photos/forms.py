"""Forms of the photo pages, and the translated texts for upload outcomes."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import DataRequired, Length

from consentflow.labels import CHANNEL_LABELS, LABELS
from consentflow.models.consent import CHANNELS

# Keys are ImageRejected codes and upload statuses (consentflow.photos.imaging).
UPLOAD_MESSAGES = {
    "empty": _l("The file is empty."),
    "too_large": _l("The file is larger than the upload limit."),
    "not_an_image": _l("The file is not a supported image (JPEG, PNG, WebP, HEIC/HEIF) or video "
                       "(MP4, MOV, WebM, MKV, AVI)."),
    "format_not_allowed": _l("This image format is not accepted (use JPEG, PNG, WebP or HEIC/HEIF)."),
    "too_many_pixels": _l("The image has too many pixels (possible decompression bomb)."),
    "bad_dimensions": _l("The image is too wide or too tall, or too long and narrow, for a photo."),
    "not_stored": _l("The file could not be stored; please try again."),
    "truncated": _l("The image is truncated or damaged and cannot be decoded completely."),
    "polyglot": _l("The file contains data other than the image (e.g. HTML or an archive) and is refused."),
    "corrupt": _l("The image cannot be decoded."),
    "video_too_large": _l("The video is larger than the video upload limit."),
    "video_damaged": _l("The video file is damaged or not a complete MP4/MOV, WebM/MKV or AVI file."),
    "video": _l("Video: every face is followed through the video; review its tracks when processing is done."),
    "duplicate": _l("This image is already in the album."),
    "elsewhere": _l("Also in another album of the school."),
    "no_file": _l("No file was sent."),
}

STATE_LABELS = LABELS["photo_state"]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class AlbumForm(FlaskForm):
    title = StringField(_l("Event"), validators=[DataRequired(), Length(max=200)])
    event_date = DateField(_l("Date"), validators=[DataRequired()])
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)])
    maker = StringField(_l("Photographer (credit)"), validators=[Length(max=200)],
                        description=_l("Named with every publication of these photos."))
    purposes = MultiCheckboxField(
        _l("Intended channels"), choices=[(c, CHANNEL_LABELS[c]) for c in CHANNELS],
        description=_l("Where these photos may be published; each needs the consent of everyone shown."))


class CsrfOnlyForm(FlaskForm):
    """For buttons that post (retry, delete): CSRF protection only."""
