"""Forms of the API token page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from consentflow.api.service import NAME_MAX


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)],
                       description=_l("What will use this token, e.g. \"photo booth laptop\"."))
    days = SelectField(_l("Valid for"), coerce=int, default=90,
                       choices=[(30, _l("30 days")), (90, _l("90 days")), (365, _l("1 year"))])


class RevokeForm(FlaskForm):
    """CSRF protection for the revoke button."""
