"""Domain errors reach a Dutch school in Dutch: services raise with English
msgids, the error page and flashes translate them where they are shown."""

from __future__ import annotations

import pytest
from flask import session

from consentflow.errors import NotFound


def _error_page(app, lang: str, path: str = "/") -> tuple[int, str]:
    with app.test_request_context(path):
        session["lang"] = lang
        response = app.make_response(app.handle_user_exception(NotFound("Person not found.")))
        return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("nl", "Persoon niet gevonden.", "Person not found."),
    ("en", "Person not found.", "Persoon niet gevonden."),
])
def test_a_domain_error_page_speaks_the_users_language(app, lang, shown, not_shown) -> None:
    status, page = _error_page(app, lang)
    assert status == 404
    assert shown in page and not_shown not in page


def test_the_api_keeps_its_english_messages(app) -> None:
    with app.test_request_context("/api/v1/albums/1"):
        session["lang"] = "nl"
        response = app.make_response(app.handle_user_exception(NotFound("Person not found.")))
    assert response.status_code == 404
    assert response.get_json()["message"] == "Person not found."


@pytest.mark.parametrize(("lang", "shown"), [
    ("nl", "Er bestaat al een gebruiker met e-mailadres a@b.nl."),
    ("en", "A user with e-mail a@b.nl already exists."),
])
def test_a_message_with_values_is_translated_with_its_values(app, lang, shown) -> None:
    """Services pass values beside the msgid, so the sentence is translated, not an f-string."""
    from consentflow.errors import InvalidInput, user_message

    err = InvalidInput("A user with e-mail %(email)s already exists.", email="a@b.nl")
    assert err.message == "A user with e-mail a@b.nl already exists."  # the API's English
    with app.test_request_context("/"):
        session["lang"] = lang
        assert user_message(err) == shown
