"""The demo keeps the production rule: its admin and PR sign in with the published demo TOTP key."""

from __future__ import annotations

import pyotp

from consentflow.auth.second_factor import BOX_PURPOSE, is_enrolled, verify_second_factor
from consentflow.auth.secret_box import SecretBox
from consentflow.auth.throttle import ThrottlePolicy
from consentflow.demo import DEMO_TOTP_SECRET, enrol_demo_second_factor
from consentflow.models import utcnow
from tests import factories


def test_demo_admin_gets_the_published_key_and_a_teacher_none(app, db_session) -> None:
    app.config["SECOND_FACTOR_ROLES"] = ["admin", "pr"]
    school = factories.school(db_session)
    admin = factories.user(db_session, school=school, roles=("admin",))
    teacher = factories.user(db_session, school=school, roles=("teacher",))
    enrol_demo_second_factor(admin)
    enrol_demo_second_factor(teacher)
    assert is_enrolled(admin) and not is_enrolled(teacher)
    method = verify_second_factor(db_session, user=admin, code=pyotp.TOTP(DEMO_TOTP_SECRET).now(),
                                  box=SecretBox(app.config["SECRET_KEY"], BOX_PURPOSE),
                                  remote_addr="127.0.0.1", now=utcnow(), policy=ThrottlePolicy())
    assert method == "totp"
