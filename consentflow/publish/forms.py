"""Forms of the publication pages (CSRF included)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class PublishForm(FlaskForm):
    channel_note = StringField(_l("Where it will be published (optional)"),
                               validators=[Optional(), Length(max=300)])


class TakedownDoneForm(FlaskForm):
    note = TextAreaField(_l("Where and how was the image removed?"),
                         validators=[DataRequired(), Length(max=2000)])


class CsrfForm(FlaskForm):
    """A bare form: CSRF protection for one-button actions."""


class RedactionForm(FlaskForm):
    mode = SelectField(choices=[("standard", _l("Standard blur")), ("wide", _l("Blur a larger area")),
                                ("solid", _l("Cover with a solid block"))],
                       validators=[DataRequired()])
    channel = HiddenField(validators=[Optional(), Length(max=40)])
