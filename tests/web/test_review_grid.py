"""The group-photo review page over HTTP: grid, bulk actions, live search, assign as JSON."""

from __future__ import annotations

import re

from sqlalchemy import select

from consentflow.models import Face, FaceReview, Photo
from tests import factories
from tests.conftest import Auth
from tests.services.test_publish_support import add_face, build_world

VERSION_RE = re.compile(r'name="version" value="(\d+)"')
TILE_RE = re.compile(r'<li class="tile [^"]*" id="face-(\d+)"')


def _version(html: str) -> int:
    match = VERSION_RE.search(html)
    assert match, "no version on the page"
    return int(match.group(1))


def _active(db_session, photo_id):
    db_session.expire_all()
    return list(db_session.scalars(select(FaceReview).where(
        FaceReview.photo_id == photo_id, FaceReview.revoked_at.is_(None))))


def test_grid_puts_unknown_faces_first_and_shows_candidates_side_by_side(app, client, auth,
                                                                       db_session):
    w = build_world(db_session, app)
    unknown = add_face(db_session, w.photo, (500, 300, 560, 370))
    ambiguous = Face(photo_id=w.photo.id, left=600, top=300, right=660, bottom=370,
                     source="detector", detector="centerface", score=0.9,
                     match_status="ambiguous", candidates=[
                         {"person_id": w.obama.id, "distance": 0.52},
                         {"person_id": w.biden.id, "distance": 0.54}])
    db_session.add(ambiguous)
    db_session.commit()
    auth.as_role(db_session, "pr", school=w.school)
    html = client.get(f"/review/photo/{w.photo.id}").get_data(as_text=True)
    order = [int(i) for i in TILE_RE.findall(html)]
    assert order[:2] == [unknown.id, ambiguous.id]
    assert set(order[2:]) == {w.obama_face.id, w.biden_face.id}
    tile = html[html.index(f'id="face-{ambiguous.id}"'):html.index(f'id="face-{w.obama_face.id}"')]
    # Both candidates offered as equals, each one click from "assign", no "confirm".
    assert f"/review/face/{ambiguous.id}/assign/{w.obama.id}" in tile
    assert f"/review/face/{ambiguous.id}/assign/{w.biden.id}" in tile
    assert 'value="confirm"' not in tile
    assert 'id="keys"' in html and 'id="bulk-form"' in html


def test_bulk_action_over_http_and_other_schools_faces_are_not_found(app, client, auth,
                                                                     db_session):
    w = build_world(db_session, app)
    other = build_world(db_session, app)
    db_session.commit()
    auth.as_role(db_session, "pr", school=w.school)
    html = client.get(f"/review/photo/{w.photo.id}").get_data(as_text=True)
    csrf = auth.csrf(f"/review/photo/{w.photo.id}")
    data = {"csrf_token": csrf, "version": _version(html), "action": "confirm",
            "face_ids": [w.obama_face.id, other.biden_face.id]}
    assert client.post(f"/review/photo/{w.photo.id}/bulk", data=data).status_code == 404
    data["face_ids"] = [other.biden_face.id]
    assert client.post(f"/review/photo/{other.photo.id}/bulk", data=data).status_code == 404
    assert _active(db_session, w.photo.id) == [] and _active(db_session, other.photo.id) == []

    data["face_ids"] = [w.obama_face.id, w.biden_face.id]
    page = client.post(f"/review/photo/{w.photo.id}/bulk", data=data, follow_redirects=True)
    assert "Saved for 2 face(s)." in page.get_data(as_text=True)
    assert {(r.face_id, r.kind) for r in _active(db_session, w.photo.id)} == {
        (w.obama_face.id, "confirm"), (w.biden_face.id, "confirm")}


def test_two_reviewers_bulk_on_the_same_version_second_gets_a_conflict(app, auth, db_session):
    w = build_world(db_session, app)
    db_session.commit()
    first, second = app.test_client(), app.test_client()
    Auth(first).as_role(db_session, "pr", school=w.school)
    Auth(second).as_role(db_session, "pr", school=w.school)
    seen = _version(first.get(f"/review/photo/{w.photo.id}").get_data(as_text=True))
    assert _version(second.get(f"/review/photo/{w.photo.id}").get_data(as_text=True)) == seen
    ids = [w.obama_face.id, w.biden_face.id]
    ok = first.post(f"/review/photo/{w.photo.id}/bulk", follow_redirects=True, data={
        "csrf_token": Auth(first).csrf("/review/"), "version": seen, "action": "not_face",
        "face_ids": ids})
    assert "Saved for 2 face(s)." in ok.get_data(as_text=True)
    late = second.post(f"/review/photo/{w.photo.id}/bulk", follow_redirects=True, data={
        "csrf_token": Auth(second).csrf("/review/"), "version": seen, "action": "confirm",
        "face_ids": ids})
    assert "Someone else changed this photo" in late.get_data(as_text=True)
    assert {r.kind for r in _active(db_session, w.photo.id)} == {"not_face"}


def test_live_search_finds_only_people_of_this_school(app, client, auth, db_session):
    w = build_world(db_session, app)
    other = factories.school(db_session)
    factories.person(db_session, school=other, first="Barack", last="Elsewhere")
    db_session.commit()
    auth.as_role(db_session, "pr", school=w.school)
    found = client.get(f"/review/photo/{w.photo.id}/people.json?q=barack").get_json()
    assert [p["name"] for p in found["people"]] == ["Barack Obama"]
    assert client.get(f"/review/photo/{w.photo.id}/people.json?q=").get_json() == {"people": []}


def test_live_search_of_another_schools_photo_or_by_a_teacher_is_refused(app, client, auth,
                                                                         db_session):
    w = build_world(db_session, app)
    mine = factories.school(db_session)
    db_session.commit()
    auth.as_role(db_session, "pr", school=mine)
    assert client.get(f"/review/photo/{w.photo.id}/people.json?q=obama").status_code == 404
    teacher = app.test_client()
    Auth(teacher).as_role(db_session, "teacher", school=w.school)
    assert teacher.get(f"/review/photo/{w.photo.id}/people.json?q=obama").status_code == 403


def test_assign_answers_json_with_the_new_version_and_tile(app, client, auth, db_session):
    w = build_world(db_session, app)
    unknown = add_face(db_session, w.photo, (500, 300, 560, 370))
    stranger = factories.person(db_session, school=factories.school(db_session), first="Out")
    db_session.commit()
    auth.as_role(db_session, "pr", school=w.school)
    html = client.get(f"/review/photo/{w.photo.id}").get_data(as_text=True)
    csrf = auth.csrf(f"/review/photo/{w.photo.id}")
    headers = {"Accept": "application/json", "X-CSRFToken": csrf}
    seen = _version(html)

    refused = client.post(f"/review/face/{unknown.id}/assign/{stranger.id}", headers=headers,
                          data={"csrf_token": csrf, "version": seen})
    assert refused.status_code == 400
    assert refused.get_json() == {"ok": False, "message": "Choose a person of this school."}

    reply = client.post(f"/review/face/{unknown.id}/assign/{w.obama.id}", headers=headers,
                        data={"csrf_token": csrf, "version": seen})
    body = reply.get_json()
    assert reply.status_code == 200 and body["ok"] is True
    db_session.expire_all()
    assert body["version"] == db_session.get(Photo, w.photo.id).version != seen
    assert f'id="face-{unknown.id}"' in body["tile"] and "Barack Obama" in body["tile"]
    assert [(r.face_id, r.person_id) for r in _active(db_session, w.photo.id)] == \
        [(unknown.id, w.obama.id)]

    late = client.post(f"/review/face/{w.biden_face.id}/assign/{w.biden.id}", headers=headers,
                       data={"csrf_token": csrf, "version": seen})
    assert late.status_code == 409
    assert "Someone else changed this photo" in late.get_json()["message"]


def test_thumbnails_show_file_name_and_face_count(app, client, auth, db_session):
    w = build_world(db_session, app)
    w.photo.processed_at = w.photo.uploaded_at
    db_session.commit()
    auth.as_role(db_session, "pr", school=w.school)
    html = client.get(f"/review/album/{w.album.id}").get_data(as_text=True)
    assert '<span class="name">two_people.jpg</span>' in html
    assert '<span class="badge faces">2 faces</span>' in html
    html = client.get(f"/photos/albums/{w.album.id}").get_data(as_text=True)
    assert '<span class="name">two_people.jpg</span>' in html
    assert '<span class="badge faces">2 faces</span>' in html
