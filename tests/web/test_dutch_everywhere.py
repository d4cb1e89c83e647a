"""Every page, admin screen and e-mail speaks Dutch (issue 8, item 9).

Walks app.url_map: every GET endpoint is requested with real object ids by a
user who has every role in the school, in Dutch, and the rendered text must
hold no raw code and no English msgid left untranslated (see dutch_check).
An endpoint that is not rendered must be listed in NOT_PAGES with the reason,
so a new page cannot slip past. Every e-mail template is rendered in Dutch
the same way, and so is the mail the outbox really holds.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask_babel import force_locale
from jinja2 import ChainableUndefined
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.consent.links import make_token, new_nonce
from consentflow.consent.purposes import purpose_label
from consentflow.consent.service import record_consent
from consentflow.faces.matching import MatchThresholds
from consentflow.models import ConsentLink, ConsentRound, OutboxMessage, utcnow
from consentflow.publish.service import approve_purpose, publish_photo
from consentflow.publish.takedown import open_takedowns
from tests import factories
from tests.services.test_publish_support import APPROVED_AT, PUBLISH_AT, build_world, confirm_both
from tests.web.dutch_check import DutchCheck, load_catalogue, raw_codes, visible_text

pytestmark = [pytest.mark.slow]
TEMPLATES = Path(__file__).resolve().parents[2] / "consentflow" / "templates"

# GET endpoints that are not pages, with why they are not read here.
NOT_PAGES = {
    "static": "files", "admin.static": "Flask-Admin's files",
    "api.v1.list_albums": "API: English JSON by design", "api.v1.get_album": "API",
    "api.v1.openapi": "API", "api.v1.get_photo": "API", "api.v1.get_faces": "API",
    "consent.public.publication_image": "image", "photos.original": "image",
    "photos.thumbnail": "image", "publish.image": "image", "publish.download": "image",
    "publish.bundle": "zip", "review.crop": "image", "review.image": "image",
    "review.preview": "image", "consent.records.evidence": "evidence file",
    "photos.album_status": "JSON polled by the page", "photos.school_status": "JSON",
    "publish.status": "JSON polled by the page (its message is translated, tested below)",
    "review.people": "JSON", "auth.login": "needs a logged-out client (read separately)",
    "videos.preview": "video file", "videos.published": "video file",
    "videos.preview_status": "JSON polled by the page",
    "consent.link_letter": "PDF letter", "consent.round_letters": "PDF letters",
    "signin.oidc_start": "a redirect to the school's provider (none configured here)",
    "signin.oidc_callback": "the provider's answer; its refusals are read in the sign-in browser test",
}
AJAX = re.compile(r"\.ajax_lookup$")


def _consent(db_session, app, w, person, decisions, at, *, method="in_person", guardian=None):
    return record_consent(
        db_session, actor=Actor.system("test"), person_id=person.id, school_year_id=w.year.id,
        form_id=w.form.id, decisions=decisions,
        signer_kind="guardian" if guardian else "self",
        signer_guardian_id=guardian.id if guardian else None, signer_name=None, method=method,
        signed_at=at, evidence=b"%PDF-1.4 scan" if method == "paper" else None,
        evidence_filename="scan.pdf" if method == "paper" else None,
        storage_dir=app.config["STORAGE_DIR"], now=at)


def _world(db_session, app) -> dict[str, Any]:
    w = build_world(db_session, app)
    w.album.title = "Sportdag"
    both = {"social_media.photo": True, "website.photo": True, "face_matching": True}
    for person in (w.obama, w.biden):
        _consent(db_session, app, w, person, both, APPROVED_AT - timedelta(days=20))
    confirm_both(db_session, w)
    for channel in ("social_media", "website"):
        approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                        channel=channel, expected_version=None, now=APPROVED_AT)
    publication = publish_photo(db_session, actor=w.actor, school_id=w.school.id,
                                photo_id=w.photo.id, channel="social_media", storage=w.storage,
                                now=PUBLISH_AT, tolerance=MatchThresholds.defaults().loose,
                                channel_note="Instagram")
    student = factories.person(db_session, school=w.school, first="Mila", last="Jansen",
                               dob=date(2015, 3, 1))
    parent = factories.guardian(db_session, school=w.school, children=[student], name="Pat Jansen")
    record = _consent(db_session, app, w, student, {"website.photo": True}, APPROVED_AT,
                      method="paper", guardian=parent)
    # A withdrawal: an open takedown and the PR officers' mail in the outbox.
    _consent(db_session, app, w, w.obama, {"social_media.photo": False, "website.photo": True},
             PUBLISH_AT + timedelta(days=1))
    rnd = ConsentRound(school_id=w.school.id, school_year_id=w.year.id, form_id=w.form.id,
                       opened_at=utcnow())
    db_session.add(rnd)
    db_session.flush()
    link = ConsentLink(school_id=w.school.id, round_id=rnd.id, person_id=student.id,
                       guardian_id=parent.id, nonce=new_nonce(),
                       expires_at=utcnow() + timedelta(days=30))
    db_session.add(link)
    user = factories.user(db_session, school=w.school, roles=("admin", "pr", "teacher", "privacy"))
    db_session.commit()
    (task,) = open_takedowns(db_session, w.school.id)
    return {
        "w": w, "user": user, "student": student, "parent": parent, "record": record,
        "publication": publication, "round": rnd, "task": task,
        "token": make_token(app.config["SECRET_KEY"], link.nonce), "link": link,
    }


def _url_args(s: dict[str, Any]) -> dict[str, Any]:
    w = s["w"]
    return {
        "album_id": w.album.id, "photo_id": w.photo.id, "person_id": s["student"].id,
        "publication_id": s["publication"].id, "face_id": w.obama_face.id,
        "form_id": w.form.id, "round_id": s["round"].id, "record_id": s["record"].id,
        "task_id": s["task"].id, "token": s["token"], "channel": "website", "export_type": "csv",
        "link_id": s["link"].id, "provider_id": 987654,
    }


def _admin_id(endpoint: str, s: dict[str, Any]) -> Any:
    w = s["w"]
    return {"person": s["student"].id, "guardian": s["parent"].id, "consentform": w.form.id,
            "consentrecord": s["record"].id, "user": s["user"].id, "school": w.school.id,
            "auditevent": 1}.get(endpoint.split(".")[0])


def _paths(app, s: dict[str, Any]) -> list[tuple[str, str]]:
    from flask import url_for

    args = _url_args(s)
    paths = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
            if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES or AJAX.search(rule.endpoint):
                continue
            values = {name: args[name] for name in rule.arguments}
            if rule.endpoint.endswith((".details_view", ".edit_view")):
                values["id"] = _admin_id(rule.endpoint, s)
            paths.append((rule.endpoint, url_for(rule.endpoint, **values)))
    return paths


def test_every_page_and_admin_screen_speaks_dutch(app, client, auth, db_session) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = "nl"
    s = _world(db_session, app)
    check = DutchCheck(load_catalogue(), raw_codes())
    problems: dict[str, list[str]] = {}

    login_page = client.get("/login")
    problems["auth.login"] = check.problems(visible_text(login_page.get_data(as_text=True)))
    auth.login(s["user"].email)
    read = []
    pages: dict[str, str] = {}
    for endpoint, path in _paths(app, s):
        response = client.get(path)
        assert response.status_code < 500, (endpoint, path, response.status_code)
        if response.status_code != 200:
            continue
        body = response.get_data(as_text=True)
        if response.mimetype == "text/html":
            read.append(endpoint)
            pages[endpoint] = body
            problems[f"{endpoint} {path}"] = check.problems(visible_text(body))
        elif response.mimetype == "text/csv":
            read.append(endpoint)
            problems[f"{endpoint} {path}"] = check.problems(body.splitlines())
    # The error pages: 404, 405, 403 (a teacher on an admin page), 410 (a taken-down download).
    for path, status in (("/no-such-page", 404), ("/publish/takedowns/1/done", 405),
                         (f"/publish/publication/{s['publication'].id}/download", 410)):
        response = client.get(path)
        assert response.status_code == status, path
        problems[f"error {status}"] = check.problems(visible_text(response.get_data(as_text=True)))
    # 403 and 500 rendered by the app's handlers (the walk's user may do everything; 500 has no route).
    from flask import session as flask_session
    from werkzeug.exceptions import Forbidden, InternalServerError

    for error in (Forbidden(), InternalServerError()):
        with app.test_request_context("/"):
            flask_session["lang"] = "nl"
            response = app.make_response(app.handle_user_exception(error))
        assert response.status_code == error.code
        html = response.get_data(as_text=True)
        assert error.description not in html  # werkzeug's English explanation is not shown
        problems[f"error {error.code}"] = check.problems(visible_text(html))
    # The subject-access page (its HTML sits in the export).
    from consentflow.privacy.cli import render_export_html
    from consentflow.privacy.service import subject_access_data

    with app.test_request_context("/"):
        data = subject_access_data(db_session, school_id=s["w"].school.id, person_id=s["w"].obama.id)
        problems["subject access"] = check.problems(visible_text(render_export_html(data)))

    problems = {k: v for k, v in problems.items() if v}
    assert not problems, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in problems.items())
    # Flask-Admin's own words are Dutch too, and its screens carry the app's top bar.
    admin_list = pages["person.index_view"]
    assert "Lijst" in admin_list and "Zoeken" in admin_list
    for endpoint in ("person.index_view", "consentrecord.details_view", "admin.index"):
        page = pages[endpoint]
        assert 'class="topbar"' in page and "/logout" in page and "/lang/en" in page, endpoint
    # The walk really read the pages, Flask-Admin included.
    for must in ("home.index", "publish.takedowns", "publish.publication", "consent.public.overview",
                 "person.index_view", "consentrecord.details_view", "auditevent.index_view",
                 "user.edit_view", "school.edit_view", "privacy.person", "review.photo"):
        assert must in read, must


def test_every_mail_speaks_dutch(app, db_session) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = "nl"
    s = _world(db_session, app)
    check = DutchCheck(load_catalogue(), raw_codes())
    w = s["w"]
    pub = s["publication"]
    context = {
        "school": w.school, "person": s["student"], "guardian": s["parent"], "officer": s["user"],
        "record": s["record"], "label": purpose_label, "url": "https://school.example/c/x",
        "expires_on": date(2027, 7, 31), "signed_on": date(2026, 10, 5), "count": 2, "hours": 24,
        "minutes": 60, "user": s["user"],
        "items": [{"channel": pub.purpose, "where": "Instagram", "album": "Sportdag",
                   "published_at": pub.published_at}],
    }
    env = app.jinja_env.overlay(undefined=ChainableUndefined)
    templates = sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("email/*")
                       if p.suffix in (".txt", ".html"))
    assert templates, "no mail templates found"
    problems = {}
    for name in templates:
        with force_locale("nl"):
            text = env.get_template(name).render(**context)
        chunks = visible_text(text) if name.endswith(".html") else text.splitlines()
        problems[name] = check.problems(chunks)
    # And what the outbox really holds (the PR officers' takedown mail of the withdrawal).
    held = list(db_session.scalars(select(OutboxMessage)))
    assert held
    for message in held:
        problems[f"outbox {message.id}"] = check.problems([message.subject, *message.body.splitlines()])
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in problems.items())


def test_the_check_finds_what_it_is_for() -> None:
    """The detector itself: a raw code, an English msgid, a UTC time are each found."""
    check = DutchCheck(load_catalogue(), raw_codes())
    assert check.problems(["Doel: social_media"])
    assert check.problems(["blur_no_consent"])
    assert check.problems(["Takedowns"])  # a msgid with Dutch words, shown in English
    assert check.problems(["2026-10-05 09:00:00.123456"])
    assert not check.problems(["Sociale media van de school", "Sportdag", "2026-10-05 11:00"])


def test_switching_to_english_shows_english(app, client, auth, db_session) -> None:
    """Dutch first, English when switched: the same labels and error page in English."""
    app.config["BABEL_DEFAULT_LOCALE"] = "nl"
    s = _world(db_session, app)
    auth.login(s["user"].email)
    dutch = client.get(f"/publish/publication/{s['publication'].id}").get_data(as_text=True)
    assert "Verwijdering in behandeling" in dutch
    client.post("/lang/en", data={"csrf_token": auth.csrf(), "next": "/"})
    english = client.get(f"/publish/publication/{s['publication'].id}").get_data(as_text=True)
    assert "Removal pending" in english and "Verwijdering in behandeling" not in english
    admin = client.get("/admin/person/").get_data(as_text=True)
    assert "Student number" in admin and "Leerlingnummer" not in admin
    missing = client.get("/no-such-page").get_data(as_text=True)
    assert "Not found" in missing
