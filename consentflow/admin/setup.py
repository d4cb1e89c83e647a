"""Builds one Flask-Admin instance per app (views bind to the app they serve)."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from consentflow.admin.base import SecureIndexView
from consentflow.admin.signin import SignInProviderView
from consentflow.admin.views import (
    AuditEventView,
    ConsentFormView,
    ConsentRecordView,
    GuardianView,
    PersonView,
    SchoolView,
    UserView,
)
from consentflow.extensions import db
from consentflow.init import csp_nonce
from consentflow.models import (
    AuditEvent,
    ConsentForm,
    ConsentRecord,
    Guardian,
    Person,
    School,
    User,
)


def build_admin(app: Flask) -> Admin:
    admin = Admin(
        app, name="consentflow", url="/admin", index_view=SecureIndexView(url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/cf_master.html"),
        csp_nonce_generator=csp_nonce,
    )
    session = db  # Flask-Admin 2 takes the db object
    admin.add_view(PersonView(Person, session, name=_l("People"), endpoint="person"))
    admin.add_view(GuardianView(Guardian, session, name=_l("Guardians"), endpoint="guardian"))
    admin.add_view(ConsentFormView(ConsentForm, session, name=_l("Consent forms"), endpoint="consentform"))
    admin.add_view(ConsentRecordView(ConsentRecord, session, name=_l("Consent records"), endpoint="consentrecord"))
    admin.add_view(UserView(User, session, name=_l("Users"), endpoint="user"))
    admin.add_view(SchoolView(School, session, name=_l("School settings"), endpoint="school"))
    admin.add_view(SignInProviderView(name=_l("School sign-in"), endpoint="signin_provider",
                                      url="/admin/signin"))
    admin.add_view(AuditEventView(AuditEvent, session, name=_l("Audit trail"), endpoint="auditevent"))
    return admin
