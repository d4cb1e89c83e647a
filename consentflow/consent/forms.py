"""WTForms for the consent admin pages and the public consent page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class YearForm(FlaskForm):
    on = DateField(_l("A day in the school year"), validators=[DataRequired()])


class FormVersionForm(FlaskForm):
    school_year_id = SelectField(_l("School year"), coerce=int, validators=[InputRequired()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    wording = TextAreaField(_l("Wording shown to parents and students"), validators=[DataRequired()],
                            render_kw={"rows": 8})
    purposes = MultiCheckboxField(_l("Purposes asked"), validators=[DataRequired()])


class ReminderForm(FlaskForm):
    """The school's reminder schedule for a mailing; empty "every" means no reminders."""

    reminder_every_days = IntegerField(_l("Remind those who have not answered every (days)"), default=7,
                                       validators=[Optional(), NumberRange(min=1, max=60)])
    reminder_max = IntegerField(_l("At most (reminders)"), default=2,
                                validators=[InputRequired(), NumberRange(min=0, max=10)])


class RoundForm(ReminderForm):
    form_id = SelectField(_l("Form version"), coerce=int, validators=[InputRequired()])
    audience = SelectField(_l("Send the links to"), default="unanswered",
                           choices=[("unanswered", _l("those who have not answered this school year")),
                                    ("everyone", _l("everyone (e.g. after a new form version)"))])


class ActionForm(FlaskForm):
    """CSRF only: buttons that post."""


class RecordForm(FlaskForm):
    """A paper or in-person answer; purpose checkboxes are added per form version."""

    form_id = HiddenField()
    signer = SelectField(_l("Signed by"), validators=[InputRequired()])
    signer_name = StringField(_l("Name as signed"), validators=[Optional(), Length(max=200)])
    method = SelectField(_l("How"), choices=[("paper", _l("Paper form (upload the scan)")),
                                             ("in_person", _l("In person"))])
    signed_on = DateField(_l("Signed on"), validators=[DataRequired()])
    evidence = FileField(_l("Scan of the signed form (PDF, JPEG, PNG)"))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})


class PublicConsentForm(FlaskForm):
    """The public page: purposes are read as yes/no radio groups next to this."""

    submission = HiddenField()
    action = HiddenField()

