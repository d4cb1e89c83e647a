"""Forms of the review pages. Every action carries the photo version the reviewer saw."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class VersionedForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])
    next = HiddenField()


class FaceDecisionForm(VersionedForm):
    kind = HiddenField(validators=[DataRequired()])
    person_id = IntegerField(validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class DrawFaceForm(VersionedForm):
    left = IntegerField(_l("Left"), validators=[InputRequired(), NumberRange(min=0)])
    top = IntegerField(_l("Top"), validators=[InputRequired(), NumberRange(min=0)])
    right = IntegerField(_l("Right"), validators=[InputRequired(), NumberRange(min=0)])
    bottom = IntegerField(_l("Bottom"), validators=[InputRequired(), NumberRange(min=0)])
    person_id = IntegerField(validators=[Optional()])


class PurposeForm(VersionedForm):
    action = HiddenField(validators=[DataRequired()])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])


class BulkForm(VersionedForm):
    """One decision for the selected faces; the face ids come as a list (``face_ids``)."""

    action = HiddenField(validators=[DataRequired()])
