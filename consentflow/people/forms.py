"""Upload form for roster exports, and the confirmation of who leaves."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField
from wtforms.validators import DataRequired


class RosterImportForm(FlaskForm):
    file = FileField(_l("Export file: CSV (comma or semicolon separated) or EDEXML"),
                     validators=[FileRequired()])
    kind = SelectField(_l("People in this file"), choices=[("student", _l("Students")), ("staff", _l("Staff"))])
    # Off by default: leaving deletes reference faces, so it is asked for, shown, then confirmed.
    full_export = BooleanField(_l("This is a full export: show who is missing from it, so that I can "
                                  "mark them as left (you confirm that separately)"), default=False)
    dry_run = BooleanField(_l("Dry run: show the report, change nothing"), default=False)


class ConfirmLeaversForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])
