"""Upload form for roster exports."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField


class RosterImportForm(FlaskForm):
    file = FileField(_l("CSV export (comma or semicolon separated)"), validators=[FileRequired()])
    kind = SelectField(_l("People in this file"), choices=[("student", _l("Students")), ("staff", _l("Staff"))])
    full_export = BooleanField(_l("This is a full export: mark people missing from it as left"), default=True)
    dry_run = BooleanField(_l("Dry run: show the report, change nothing"), default=False)
