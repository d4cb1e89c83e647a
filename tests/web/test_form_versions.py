"""What families signed never changes: a signed form version is frozen in the admin, the ORM and the database."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from consentflow.models import ConsentForm
from tests import factories
from tests.jobs.photo_helpers import give_consent


def _signed_form(db_session):
    school = factories.school(db_session)
    child = factories.person(db_session, school=school)
    record = give_consent(db_session, child, {"website.photo": True})
    db_session.commit()
    return school, db_session.get(ConsentForm, record.form_id)


def _post_edit(client, auth, form, **fields):
    page = f"/admin/consentform/edit/?id={form.id}"
    data = {"school_year": str(form.school_year_id), "version": str(form.version),
            "title": form.title, "wording": form.wording, "csrf_token": auth.csrf(page), **fields}
    return client.post(page, data=data, follow_redirects=True)


def test_admin_cannot_rewrite_a_signed_form(client, auth, db_session) -> None:
    school, form = _signed_form(db_session)
    wording = form.wording
    auth.as_role(db_session, "admin", school=school)
    response = _post_edit(client, auth, form, wording="We may publish anything, anywhere.")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Make a new version from it instead." in html
    db_session.expire_all()
    assert db_session.get(ConsentForm, form.id).wording == wording


def test_signed_form_edit_page_offers_a_new_version(client, auth, db_session) -> None:
    school, form = _signed_form(db_session)
    auth.as_role(db_session, "admin", school=school)
    html = client.get(f"/admin/consentform/edit/?id={form.id}").get_data(as_text=True)
    assert f"/consent/forms/new?from={form.id}" in html


def test_unsigned_form_can_still_be_corrected(client, auth, db_session) -> None:
    school, signed = _signed_form(db_session)
    draft = ConsentForm(school_id=school.id, school_year_id=signed.school_year_id, version=2,
                        title="Draft", wording="Typo", purposes=["website.photo"])
    db_session.add(draft)
    db_session.commit()
    auth.as_role(db_session, "admin", school=school)
    _post_edit(client, auth, draft, wording="Fixed")
    db_session.expire_all()
    assert db_session.get(ConsentForm, draft.id).wording == "Fixed"


def test_orm_refuses_to_change_a_signed_form(db_session) -> None:
    _school, form = _signed_form(db_session)
    form.wording = "Changed behind the service's back"
    with pytest.raises(ValueError, match="signed"):
        db_session.flush()
    db_session.rollback()


@pytest.mark.parametrize("statement", [
    "UPDATE consent_form SET wording = 'rewritten' WHERE id = :id",
    "DELETE FROM consent_form WHERE id = :id",
])
def test_database_refuses_to_change_a_signed_form(db_session, statement) -> None:
    _school, form = _signed_form(db_session)
    with pytest.raises(DatabaseError, match="signed"):
        db_session.execute(text(statement), {"id": form.id})
        db_session.flush()
    db_session.rollback()
    assert db_session.scalar(select(ConsentForm.wording).where(ConsentForm.id == form.id)) == "..."
