"""A first second factor needs the mailbox as well as the password: the rule and the links that prove it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consentflow.audit.service import Actor
from consentflow.auth.links import LinkInvalid, issue_link, use_link_for_enrolment, use_link_for_password
from consentflow.auth.second_factor import MAILBOX_PROOF_MAX_AGE, first_enrolment_allowed
from consentflow.models import utcnow
from tests import factories


def test_the_proof_counts_for_its_own_user_while_it_is_fresh(db_session) -> None:
    school = factories.school(db_session)
    user = factories.user(db_session, school=school, roles=("admin",))
    db_session.flush()
    now = utcnow()

    def allowed(user_id: object, at: object) -> bool:
        return first_enrolment_allowed(user, proved_user_id=user_id, proved_at=at, now=now)

    assert allowed(user.id, now)
    assert allowed(user.id, now - MAILBOX_PROOF_MAX_AGE)
    assert not allowed(user.id, now - MAILBOX_PROOF_MAX_AGE - timedelta(seconds=1))
    assert not allowed(user.id, now + timedelta(seconds=1))  # a proof from the future is no proof
    assert not allowed(user.id + 1, now)
    assert not allowed(str(user.id), now)
    assert not allowed(None, None)
    assert not allowed(user.id, None)


@pytest.mark.parametrize("purpose", ["invite", "reset"])
def test_a_password_link_is_no_set_up_link_and_the_other_way_round(app, db_session, purpose) -> None:
    school = factories.school(db_session)
    user = factories.user(db_session, school=school, roles=("admin",))
    now = utcnow()
    key = app.config["SECRET_KEY"]
    password_link = issue_link(db_session, actor=Actor.system("test"), user=user, purpose=purpose, secret_key=key,
                               valid_for=timedelta(hours=1), now=now)
    enrol_link = issue_link(db_session, actor=Actor.system("test"), user=user, purpose="enrol", secret_key=key,
                            valid_for=timedelta(hours=1), now=now)
    with pytest.raises(LinkInvalid):
        use_link_for_enrolment(db_session, token=password_link.token, secret_key=key, now=now)
    with pytest.raises(LinkInvalid):
        use_link_for_password(db_session, token=enrol_link.token, secret_key=key, password="new-password-123",
                              now=now)
    assert use_link_for_enrolment(db_session, token=enrol_link.token, secret_key=key, now=now).id == user.id
    assert enrol_link.link.used_at == now and password_link.link.used_at is None
    with pytest.raises(LinkInvalid):
        use_link_for_enrolment(db_session, token=enrol_link.token, secret_key=key, now=now)
