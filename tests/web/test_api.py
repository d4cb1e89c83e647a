"""JSON API: bearer tokens only, the same role and school rules as the pages, per-file uploads
that only queue, read-only face decisions, and an OpenAPI file that matches the routes."""

from __future__ import annotations

import hashlib
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from consentflow.api import service as tokens
from consentflow.audit.service import Actor
from consentflow.jobs import get_queue
from consentflow.models import Album, ApiToken, AuditEvent, Face, Photo, utcnow
from consentflow.review.service import record_review
from tests import factories
from tests.jobs.photo_helpers import BAD, face_bytes, give_consent, run_jobs

SPEC = Path(__file__).resolve().parents[2] / "consentflow" / "api" / "openapi.json"
TOKEN_RE = re.compile(r"cf_[A-Za-z0-9_-]{20,}")


def _token(db_session, user, school, days=90) -> str:
    _obj, raw = tokens.create_token(db_session, Actor(user.id, user.email), user_id=user.id,
                                    school_id=school.id, name="school tool", days=days,
                                    now=utcnow())
    db_session.commit()
    return raw


def _h(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def _user_with_token(db_session, school, role):
    user = factories.user(db_session, school=school, roles=(role,))
    return user, _token(db_session, user, school)


def _upload(client, raw, album_id, files):
    return client.post(f"/api/v1/albums/{album_id}/photos", headers=_h(raw),
                       data={"files": [(io.BytesIO(b), name) for name, b in files]},
                       content_type="multipart/form-data")


# --- tokens and authentication -----------------------------------------------------


def test_token_page_shows_the_secret_once_stores_its_hash_and_revokes(app, client, auth,
                                                                      db_session):
    teacher = auth.as_role(db_session, "teacher")
    response = client.post("/api/tokens", data={"name": "photo booth", "days": "30",
                                                "csrf_token": auth.csrf("/api/tokens")})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    raw = TOKEN_RE.search(response.get_data(as_text=True)).group(0)
    stored = db_session.scalar(select(ApiToken))
    assert stored.user_id == teacher.id and stored.name == "photo booth"
    assert stored.token_sha256 == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in json.dumps([stored.prefix, stored.name, stored.token_sha256])
    assert raw not in client.get("/api/tokens").get_data(as_text=True)  # shown once
    created = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "api_token.create"))
    assert created.actor_id == teacher.id and raw not in json.dumps(created.details)

    tool = app.test_client()  # another program: no cookie, only the token
    assert tool.get("/api/v1/albums", headers=_h(raw)).status_code == 200
    db_session.expire_all()
    assert db_session.get(ApiToken, stored.id).last_used_at is not None

    response = client.post(f"/api/tokens/{stored.id}/revoke",
                           data={"csrf_token": auth.csrf("/api/tokens")})
    assert response.status_code == 302
    refused = tool.get("/api/v1/albums", headers=_h(raw))
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_token"
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "api_token.revoke")) == 1


def test_a_user_cannot_revoke_someone_elses_token(client, auth, db_session):
    school = factories.school(db_session)
    other, _raw = _user_with_token(db_session, school, "pr")
    auth.as_role(db_session, "pr", school=school)
    theirs = db_session.scalar(select(ApiToken).where(ApiToken.user_id == other.id))
    response = client.post(f"/api/tokens/{theirs.id}/revoke",
                           data={"csrf_token": auth.csrf("/api/tokens")})
    assert response.status_code == 404
    db_session.refresh(theirs)
    assert theirs.revoked_at is None


def test_requests_without_a_valid_token_are_refused(app, client, db_session):
    school = factories.school(db_session)
    user, raw = _user_with_token(db_session, school, "pr")
    album = factories.album(db_session, school=school, created_by=user)
    db_session.commit()
    url = f"/api/v1/albums/{album.id}"
    assert client.get(url, headers=_h(raw)).status_code == 200

    missing = client.get(url)
    assert missing.status_code == 401 and missing.get_json()["error"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    forged = "cf_" + "A" * 43
    for headers in (_h(forged), _h(raw[:-1]), {"Authorization": f"Basic {raw}"},
                    {"Authorization": raw}, _h(hashlib.sha256(raw.encode()).hexdigest())):
        response = client.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert set(response.get_json()) == {"error", "message"}
    # A forged token creates nothing either.
    assert client.post("/api/v1/albums", headers=_h(forged),
                       json={"title": "x", "event_date": "2026-01-01"}).status_code == 401

    token = db_session.scalar(select(ApiToken))
    token.expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert client.get(url, headers=_h(raw)).status_code == 401
    token.expires_at = utcnow() + timedelta(days=1)
    user.active = False
    db_session.commit()
    assert client.get(url, headers=_h(raw)).status_code == 401
    assert db_session.scalar(select(func.count()).select_from(Album)) == 1


def test_the_login_session_cookie_is_never_accepted(app, client, auth, db_session):
    school = factories.school(db_session)
    pr = auth.as_role(db_session, "pr", school=school)  # the browser session of a PR officer
    factories.album(db_session, school=school, created_by=pr)
    db_session.commit()
    assert client.get("/photos/").status_code == 200  # the cookie works for the pages
    response = client.get("/api/v1/albums")
    assert response.status_code == 403 and response.get_json()["error"] == "session_not_accepted"
    response = client.post("/api/v1/albums", json={"title": "Via cookie", "event_date": "2026-05-01"})
    assert response.status_code == 403
    assert db_session.scalar(select(Album).where(Album.title == "Via cookie")) is None
    # With a token, the token decides who acts, whatever cookie comes along.
    teacher, raw = _user_with_token(db_session, school, "teacher")
    listed = client.get("/api/v1/albums", headers=_h(raw)).get_json()["albums"]
    assert listed == []  # the teacher's view, not the PR officer's
    created = client.post("/api/v1/albums", headers=_h(raw),
                          json={"title": "Via token", "event_date": "2026-05-01"})
    assert created.status_code == 201
    assert db_session.get(Album, created.get_json()["id"]).created_by_id == teacher.id


# --- roles and schools -------------------------------------------------------------


def test_teacher_sees_only_own_albums_and_never_faces(app, client, db_session):
    school = factories.school(db_session)
    teacher, raw = _user_with_token(db_session, school, "teacher")
    colleague, colleague_raw = _user_with_token(db_session, school, "teacher")
    _pr, pr_raw = _user_with_token(db_session, school, "pr")
    mine = factories.album(db_session, school=school, created_by=teacher, title="Mine")
    theirs = factories.album(db_session, school=school, created_by=colleague, title="Theirs")
    db_session.commit()
    _upload(client, raw, mine.id, [("a.jpg", face_bytes("obama2.jpg"))])
    _upload(client, colleague_raw, theirs.id, [("b.jpg", face_bytes("biden.jpg"))])
    my_photo = db_session.scalar(select(Photo).where(Photo.album_id == mine.id))
    their_photo = db_session.scalar(select(Photo).where(Photo.album_id == theirs.id))

    titles = [a["title"] for a in client.get("/api/v1/albums", headers=_h(raw)).get_json()["albums"]]
    assert titles == ["Mine"]
    assert client.get(f"/api/v1/albums/{theirs.id}", headers=_h(raw)).status_code == 404
    assert client.get(f"/api/v1/photos/{their_photo.id}", headers=_h(raw)).status_code == 404
    assert _upload(client, raw, theirs.id, [("c.jpg", face_bytes("obama.jpg"))]).status_code == 404
    assert client.get(f"/api/v1/photos/{my_photo.id}", headers=_h(raw)).status_code == 200
    faces = client.get(f"/api/v1/photos/{my_photo.id}/faces", headers=_h(raw))
    assert faces.status_code == 403 and faces.get_json()["error"] == "forbidden"

    pr_titles = {a["title"] for a in
                 client.get("/api/v1/albums", headers=_h(pr_raw)).get_json()["albums"]}
    assert pr_titles == {"Mine", "Theirs"}
    assert client.get(f"/api/v1/photos/{their_photo.id}/faces",
                      headers=_h(pr_raw)).status_code == 200


def test_roles_without_album_rights_get_403(client, db_session):
    school = factories.school(db_session)
    for role in ("privacy", "admin"):
        _user, raw = _user_with_token(db_session, school, role)
        response = client.get("/api/v1/albums", headers=_h(raw))
        assert response.status_code == 403, role


def test_other_schools_objects_are_not_found(client, db_session):
    school = factories.school(db_session)
    other_school = factories.school(db_session)
    _pr, raw = _user_with_token(db_session, school, "pr")
    their_pr, their_raw = _user_with_token(db_session, other_school, "pr")
    theirs = factories.album(db_session, school=other_school, created_by=their_pr)
    db_session.commit()
    _upload(client, their_raw, theirs.id, [("a.jpg", face_bytes("obama2.jpg"))])
    photo = db_session.scalar(select(Photo))
    for url in (f"/api/v1/albums/{theirs.id}", f"/api/v1/photos/{photo.id}",
                f"/api/v1/photos/{photo.id}/faces", "/api/v1/albums/999999"):
        response = client.get(url, headers=_h(raw))
        assert response.status_code == 404, url
        assert response.get_json()["error"] == "not_found"
    assert _upload(client, raw, theirs.id, [("b.jpg", face_bytes("biden.jpg"))]).status_code == 404
    assert client.get("/api/v1/albums", headers=_h(raw)).get_json()["albums"] == []
    assert db_session.scalar(select(func.count()).select_from(Photo)) == 1


# --- albums and uploads ------------------------------------------------------------


def test_create_album_validates_input_and_is_audited(client, db_session):
    school = factories.school(db_session)
    teacher, raw = _user_with_token(db_session, school, "teacher")
    bad = [
        ({"title": "x"}, "invalid_input"),
        ({"title": "x", "event_date": "12-05-2026"}, "invalid_input"),
        ({"title": "x", "event_date": "2026-02-30"}, "invalid_input"),
        ({"title": "", "event_date": "2026-05-12"}, "invalid_input"),
        ({"title": "x", "event_date": "2026-05-12", "purposes": ["billboard"]}, "invalid_input"),
        ({"title": "x", "event_date": "2026-05-12", "purpose": ["website"]}, "invalid_input"),
        ({"title": 5, "event_date": "2026-05-12"}, "invalid_input"),
    ]
    for body, code in bad:
        response = client.post("/api/v1/albums", headers=_h(raw), json=body)
        assert response.status_code == 400, body
        assert response.get_json()["error"] == code, body
    not_json = client.post("/api/v1/albums", headers=_h(raw), data="title=x")
    assert not_json.status_code == 400 and not_json.get_json()["error"] == "invalid_json"
    assert db_session.scalar(select(func.count()).select_from(Album)) == 0

    response = client.post("/api/v1/albums", headers=_h(raw), json={
        "title": "Schoolreis", "event_date": "2026-05-12", "description": "Naar de zee",
        "maker": "J. Fotograaf", "purposes": ["website", "newsletter"]})
    assert response.status_code == 201
    data = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/albums/{data['id']}")
    assert (data["title"], data["event_date"], data["purposes"]) == \
        ("Schoolreis", "2026-05-12", ["website", "newsletter"])
    assert data["progress"]["total"] == 0 and data["photos"] == []
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "album.create"))
    assert event.actor_id == teacher.id and event.object_id == str(data["id"])
    assert "via API token" in event.actor_label


def test_upload_gives_per_file_results_and_only_queues(app, client, db_session):
    school = factories.school(db_session)
    teacher, raw = _user_with_token(db_session, school, "teacher")
    album = factories.album(db_session, school=school, created_by=teacher)
    db_session.commit()
    good = face_bytes("obama2.jpg")
    response = _upload(client, raw, album.id, [
        ("good.jpg", good), ("evil.jpg", (BAD / "renamed_html.jpg").read_bytes()),
        ("broken.jpg", (BAD / "truncated.jpg").read_bytes()), ("again.jpg", good)])
    assert response.status_code == 200
    body = response.get_json()
    results = body["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "duplicate"]
    assert [r["code"] for r in results[1:]] == ["not_an_image", "truncated", "duplicate"]
    assert all(r["message"] for r in results[1:])
    assert (body["accepted"], body["rejected"], body["duplicate"]) == (1, 2, 1)
    assert results[3]["photo_id"] == results[0]["photo_id"]

    # Queued, never processed in the request.
    photo = db_session.get(Photo, results[0]["photo_id"])
    assert photo.state == "uploaded"
    assert db_session.scalar(select(func.count()).select_from(Photo)) == 1
    assert db_session.scalar(select(func.count()).select_from(Face)) == 0
    assert get_queue(app).pending_count() == 1
    upload_event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "photo.upload"))
    assert upload_event.actor_id == teacher.id

    status = client.get(f"/api/v1/photos/{photo.id}", headers=_h(raw)).get_json()
    with Image.open(io.BytesIO(good)) as im:
        assert (status["width"], status["height"]) == im.size
    assert (status["state"], status["byte_size"], status["face_count"]) == ("uploaded", len(good), 0)
    assert status["sha256"] == hashlib.sha256(good).hexdigest()
    assert status["failure_reason"] is None
    detail = client.get(f"/api/v1/albums/{album.id}", headers=_h(raw)).get_json()
    assert detail["progress"]["states"] == {"uploaded": 1}
    assert (detail["progress"]["queued"], detail["progress"]["done"]) == (1, 0)
    assert detail["photos"] == [{"id": photo.id, "filename": "good.jpg", "state": "uploaded"}]

    nothing = client.post(f"/api/v1/albums/{album.id}/photos", headers=_h(raw), data={},
                          content_type="multipart/form-data")
    assert nothing.status_code == 400 and nothing.get_json()["error"] == "no_file"

    run_jobs(app)
    detail = client.get(f"/api/v1/albums/{album.id}", headers=_h(raw)).get_json()
    assert detail["progress"]["states"] == {"needs_review": 1} and detail["progress"]["faces"] == 1


def test_a_video_is_stored_and_queued_like_a_photo(app, client, db_session):
    from tests.unit.test_video_upload import mp4

    school = factories.school(db_session)
    pr, raw = _user_with_token(db_session, school, "pr")
    album = factories.album(db_session, school=school, created_by=pr)
    db_session.commit()
    result = _upload(client, raw, album.id, [("clip.mp4", mp4())]).get_json()["results"][0]
    assert (result["status"], result["video"]) == ("accepted", True)
    photo = client.get(f"/api/v1/photos/{result['photo_id']}", headers=_h(raw)).get_json()
    assert (photo["state"], photo["media_type"]) == ("uploaded", "video/mp4")
    assert get_queue(app).pending_count() == 1


def test_faces_give_boxes_and_the_review_rule_per_channel_without_names(app, client, db_session):
    school = factories.school(db_session)
    pr, raw = _user_with_token(db_session, school, "pr")
    album = factories.album(db_session, school=school, created_by=pr,
                            purposes=("website", "social_media"))
    person = factories.person(db_session, school=school, first="Barack", last="Zichtbaar",
                              dob=date(1990, 1, 1))
    record = give_consent(db_session, person, {"website.photo": True, "social_media.photo": False})
    db_session.commit()
    photo_id = _upload(client, raw, album.id, [("a.jpg", face_bytes("obama2.jpg"))]
                       ).get_json()["results"][0]["photo_id"]
    before = client.get(f"/api/v1/photos/{photo_id}/faces", headers=_h(raw)).get_json()
    assert before["state"] == "uploaded" and before["faces"] == []
    run_jobs(app)

    data = client.get(f"/api/v1/photos/{photo_id}/faces", headers=_h(raw)).get_json()
    assert data["channels"] == ["website", "social_media"] and len(data["faces"]) == 1
    face = data["faces"][0]
    box = face["box"]
    assert 0 <= box["left"] < box["right"] <= data["width"]
    assert 0 <= box["top"] < box["bottom"] <= data["height"]
    stored = db_session.get(Face, face["id"])
    assert (box["left"], box["top"], box["right"], box["bottom"]) == \
        (stored.left, stored.top, stored.right, stored.bottom)
    # Nobody confirmed who this is: blurred everywhere, whatever the matcher thinks.
    assert {d["decision"] for d in face["decisions"].values()} == {"blur_unknown"}
    assert face["person_id"] is None

    record_review(db_session, actor=Actor(pr.id, pr.email), school_id=school.id,
                  face_id=face["id"], kind="assign", person_id=person.id,
                  expected_version=None, now=utcnow())
    db_session.commit()
    response = client.get(f"/api/v1/photos/{photo_id}/faces", headers=_h(raw))
    face = response.get_json()["faces"][0]
    assert face["review"] == "assign" and face["person_id"] == person.id
    assert face["decisions"]["website"] == {"decision": "show", "reason": "consent",
                                            "consent_record_id": record.id}
    assert face["decisions"]["social_media"]["decision"] == "blur_no_consent"
    assert face["decisions"]["social_media"]["consent_record_id"] is None
    text = response.get_data(as_text=True)
    assert "Zichtbaar" not in text and "Barack" not in text
    # Read-only: no review or approval through the API.
    assert client.post(f"/api/v1/photos/{photo_id}/faces", headers=_h(raw),
                       json={}).status_code == 405


# --- the OpenAPI description -------------------------------------------------------


def _api_routes(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule[len("/api/v1"):])
            found.update((path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"})
    return found


def test_openapi_file_is_served_and_lists_exactly_the_routes(app, client):
    response = client.get("/api/v1/openapi.json")  # no token needed for the description
    assert response.status_code == 200
    spec = response.get_json()
    assert spec == json.loads(SPEC.read_text(encoding="utf-8"))
    assert spec["openapi"].startswith("3.1") and spec["servers"] == [{"url": "/api/v1"}]
    documented = {(path, method) for path, item in spec["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert documented == _api_routes(app)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, item in spec["paths"].items():
        for method in ("get", "post"):
            if method not in item:
                continue
            op = item[method]
            endpoint = app.url_map.bind("localhost").match(
                "/api/v1" + re.sub(r"\{[^}]+\}", "1", path), method=method.upper())[0]
            roles = getattr(app.view_functions[endpoint], "required_roles", None)
            if roles is None:
                assert op.get("security") == [], path
            else:
                assert "security" not in op and {"401", "403"} <= set(op["responses"]), path
            if "{" in path:
                assert "404" in op["responses"], path

    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for target in set(refs(spec)):
        node = spec
        for part in target.removeprefix("#/").split("/"):
            node = node[part]
        assert node, target


def test_every_api_view_declares_its_roles(app):
    roles = {rule.endpoint: getattr(app.view_functions[rule.endpoint], "required_roles", None)
             for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")}
    assert roles.pop("api.v1.openapi") is None
    assert roles["api.v1.get_faces"] == frozenset({"pr"})
    assert all(r is not None and "privacy" not in r for r in roles.values()), roles


def test_unknown_api_paths_answer_json(client) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.is_json and response.get_json()["error"] == "not_found"
    wrong_method = client.delete("/api/v1/openapi.json")
    assert wrong_method.status_code == 405 and wrong_method.is_json


def test_a_password_change_ends_the_users_api_tokens(client, db_session) -> None:
    from consentflow.auth.service import set_password

    school = factories.school(db_session)
    user, raw = _user_with_token(db_session, school, "teacher")
    assert client.get("/api/v1/albums", headers=_h(raw)).status_code == 200
    set_password(db_session, actor=Actor.system("test"), user=user, password="a-brand-new-password")
    db_session.commit()
    assert client.get("/api/v1/albums", headers=_h(raw)).status_code == 401
