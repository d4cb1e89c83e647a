"""The authorisation matrix: every endpoint x role x school x method against tests/web/access_table.py.

One app and one pair of schools with a full set of real objects (people,
guardians, a consent form and records with evidence, a round and its links,
an album with a real photo and its faces, a real publication and the
takedown a withdrawal opened, users of every role with API tokens). Every
request is made by a real logged-in client (or a bearer token for the API)
with a valid CSRF token, so a refusal is the access check's and nothing else's.

- own school: the roles the table names are let through (never 401/403/404,
  never a redirect to the login page); every other role gets 403;
- another school's object ids: 404 (or 403), whatever the role;
- endpoints without an object: a user of the other school never sees the
  first school's sentinel names;
- anonymous: the login page (401 on the API); made-up consent tokens: refused;
- never a 500.

POST requests that change something get objects made for that endpoint
alone, so the order of the requests does not matter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select

from consentflow.api.service import create_token
from consentflow.audit.service import Actor
from consentflow.auth.sessions import start_session
from consentflow.consent.links import make_token, new_nonce
from consentflow.consent.service import record_consent
from consentflow.extensions import db
from consentflow.faces.matching import MatchThresholds
from consentflow.models import (
    AuditEvent,
    ConsentLink,
    ConsentRound,
    Guardian,
    Person,
    TakedownTask,
    User,
    utcnow,
)
from consentflow.publish.service import approve_purpose, publish_photo
from tests import factories
from tests.conftest import CSRF_RE, Auth, _empty_tables, make_app
from tests.services.test_publish_support import (
    APPROVED_AT,
    BIDEN_BOX,
    OBAMA_BOX,
    PUBLISH_AT,
    World,
    add_face,
    add_photo,
    build_world,
    confirm_both,
)
from tests.web.access_table import ACCESS, ROLES, Rule

pytestmark = [pytest.mark.slow]

ALL_PURPOSES = {"social_media.photo": True, "website.photo": True}
PNG = (Path(__file__).resolve().parents[1] / "data" / "faces" / "obama_small.jpg").read_bytes()
LOGIN = "/login"
# The request reached the view (or a business answer): anything but these.
REFUSED = {401, 403, 404, 405}


@dataclass
class Side:
    """One school with every kind of object, its users and their clients."""

    tag: str
    world: World
    guardian: Guardian
    student: Person
    record_id: int
    publication_id: int
    task_id: int
    round_id: int
    link_id: int
    link_token: str
    audit_id: int
    users: dict[str, User]
    bearer: dict[str, str]
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)
    fresh: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def sentinels(self) -> tuple[str, ...]:
        return (f"Qwerty{self.tag}", f"Album{self.tag}")


def _build_side(app: Flask, tag: str) -> Side:
    session = db.session
    w = build_world(session, app)
    w.album.title = f"Album{tag}"
    student = factories.person(session, school=w.school, first="Sentinel", last=f"Qwerty{tag}")
    guardian = factories.guardian(session, school=w.school, children=[student])
    for person in (w.obama, w.biden):
        record_consent(
            session, actor=w.actor, person_id=person.id, school_year_id=w.year.id,
            form_id=w.form.id, decisions=ALL_PURPOSES, signer_kind="self", signer_guardian_id=None,
            signer_name=None, method="paper", signed_at=APPROVED_AT - timedelta(days=20),
            evidence=PNG, evidence_filename="form.jpg", storage_dir=app.config["STORAGE_DIR"],
            now=APPROVED_AT - timedelta(days=20))
    confirm_both(session, w)
    approve_purpose(session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                    channel="social_media", expected_version=None, now=APPROVED_AT)
    publication = publish_photo(session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                                channel="social_media", storage=w.storage, now=PUBLISH_AT,
                                tolerance=MatchThresholds.defaults().loose)
    # Biden withdraws social media: the registry opens a real takedown task.
    withdrawal = record_consent(
        session, actor=w.actor, person_id=w.biden.id, school_year_id=w.year.id, form_id=w.form.id,
        decisions={"social_media.photo": False, "website.photo": True}, signer_kind="self",
        signer_guardian_id=None, signer_name=None, method="paper",
        signed_at=PUBLISH_AT + timedelta(days=1), evidence=PNG, evidence_filename="form.jpg",
        storage_dir=app.config["STORAGE_DIR"], now=PUBLISH_AT + timedelta(days=1))
    task = session.scalar(select(TakedownTask).where(TakedownTask.publication_id == publication.id))
    assert task is not None, "the withdrawal opened no takedown"
    rnd = ConsentRound(school_id=w.school.id, school_year_id=w.year.id, form_id=w.form.id,
                       opened_at=utcnow())
    session.add(rnd)
    session.flush()
    # The link of Obama (self-signing staff, in the publication) serves the public pages.
    link = _link(session, rnd, w.obama)
    users = {role: factories.user(session, school=w.school, roles=(role,)) for role in ROLES}
    w.album.created_by_id = users["teacher"].id  # teachers see the albums they made
    bearer = {}
    for role, user in users.items():
        _token, raw = create_token(session, Actor(user.id, user.email), user_id=user.id,
                                   school_id=w.school.id, name="matrix", days=30, now=utcnow())
        bearer[role] = raw
    audit = session.scalar(select(AuditEvent.id).where(AuditEvent.school_id == w.school.id).limit(1))
    session.commit()
    return Side(tag=tag, world=w, guardian=guardian, student=student, record_id=withdrawal.id,
                publication_id=publication.id, task_id=task.id, round_id=rnd.id, link_id=link.id,
                link_token=make_token(app.config["SECRET_KEY"], link.nonce), audit_id=audit,
                users=users, bearer=bearer)


def _link(session: Any, rnd: ConsentRound, person: Person) -> ConsentLink:
    link = ConsentLink(school_id=rnd.school_id, round_id=rnd.id, person_id=person.id,
                       guardian_id=None, nonce=new_nonce(), expires_at=utcnow() + timedelta(days=30))
    session.add(link)
    session.flush()
    return link


@dataclass
class Matrix:
    app: Flask
    a: Side
    b: Side
    anonymous: FlaskClient


@pytest.fixture(scope="module")
def matrix(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    app = make_app(migrated, tmp_path_factory.mktemp("matrix-instance"))
    ctx = app.app_context()
    ctx.push()
    try:
        a, b = _build_side(app, "Aardvark"), _build_side(app, "Bison")
        for side in (a, b):
            for role, user in side.users.items():
                client = app.test_client()
                response = Auth(client).login(user.email)
                assert response.status_code == 302, response.get_data(as_text=True)
                side.clients[role] = client
                side.csrf[role] = _csrf(client, "/account/sessions")
        anonymous = app.test_client()
        yield Matrix(app, a, b, anonymous)
    finally:
        from consentflow.extensions import db

        for engine in db.engines.values():
            engine.dispose()  # its pooled connections, closed now rather than by the garbage collector
        ctx.pop()
        _empty_tables(app)


def _csrf(client: FlaskClient, path: str) -> str:
    match = CSRF_RE.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


# --- values for the URL -------------------------------------------------------

ADMIN_MODELS = {"person", "guardian", "consentform", "consentrecord", "auditevent", "user", "school"}
OBJECT_ADMIN_VIEWS = {"details_view", "edit_view", "end_sessions_view", "invite_view"}


def _fresh(m: Matrix, side: Side, endpoint: str, name: str, role: str | None) -> Any:
    """An object made for this endpoint (and user) alone, for requests that change it."""
    key = (endpoint, f"{name}:{role}")
    if key in side.fresh:
        return side.fresh[key]
    session = db.session
    w = side.world
    if name == "person_id":
        person = factories.person(session, school=w.school, first="Fresh")
        factories.guardian(session, school=w.school, children=[person])
        value = person.id
    elif name in ("photo_id", "face_id"):
        # Its own album: a photo is unique per album by content.
        album = factories.album(session, school=w.school, created_by=side.users["teacher"])
        photo = add_photo(session, World(**{**w.__dict__, "album": album}))
        faces = [add_face(session, photo, OBAMA_BOX, matched=w.obama),
                 add_face(session, photo, BIDEN_BOX, matched=w.biden)]
        side.fresh[(endpoint, f"photo_id:{role}")] = photo.id
        side.fresh[(endpoint, f"face_id:{role}")] = faces[0].id
        session.commit()
        return side.fresh[key]
    elif name == "album_id":
        value = factories.album(session, school=w.school, created_by=side.users["teacher"]).id
    elif name == "round_id":
        rnd = ConsentRound(school_id=w.school.id, school_year_id=w.year.id, form_id=w.form.id,
                           opened_at=utcnow())
        session.add(rnd)
        session.flush()
        value = rnd.id
    elif name == "link_id":
        value = _link(session, session.get(ConsentRound, side.round_id), w.obama).id
    elif name == "task_id":
        task = TakedownTask(school_id=w.school.id, publication_id=side.publication_id,
                            person_id=w.biden.id, reason="matrix")
        session.add(task)
        session.flush()
        value = task.id
    elif name == "guardian":
        value = factories.guardian(session, school=w.school).id
    elif name == "user":
        value = factories.user(session, school=w.school, roles=("teacher",)).id
    else:
        raise AssertionError(name)
    session.commit()
    side.fresh[key] = value
    return value


def _per_user(side: Side, name: str, role: str) -> int:
    """A session or API token of the user of ``role`` in ``side`` (each request its own)."""
    session = db.session
    user = side.users[role]
    if name == "session_id":
        row, _raw = start_session(session, user=user, school_id=side.world.school.id,
                                  user_agent="matrix", remote_addr="127.0.0.1", now=utcnow())
        session.commit()
        return row.id
    token, _raw = create_token(session, Actor(user.id, user.email), user_id=user.id,
                               school_id=side.world.school.id, name="spare", days=30, now=utcnow())
    session.commit()
    return token.id


def _values(m: Matrix, endpoint: str, arguments: set[str], target: Side, method: str,
            role: str | None) -> dict[str, Any]:
    w = target.world
    plain = {
        "album_id": w.album.id, "photo_id": w.photo.id, "face_id": w.obama_face.id,
        "person_id": w.obama.id, "publication_id": target.publication_id,
        "task_id": target.task_id, "round_id": target.round_id, "link_id": target.link_id,
        "form_id": w.form.id, "record_id": target.record_id, "school_id": w.school.id,
        "channel": "social_media", "code": "en", "export_type": "csv",
        "token": target.link_token,
        "provider_id": 987654,  # no such provider: the sign-in steps must refuse it
        "filename": "admin/js/actions.js" if endpoint == "admin.static" else "app.css",
    }
    values: dict[str, Any] = {}
    for name in arguments:
        if name in ("session_id", "token_id"):
            values[name] = _per_user(target, name, role or "teacher")
        elif method == "POST" and name in ("person_id", "photo_id", "face_id", "album_id",
                                           "round_id", "link_id", "task_id"):
            values[name] = _fresh(m, target, endpoint, name, role)
        else:
            values[name] = plain[name]
    if endpoint.startswith("review.assign"):
        values["person_id"] = w.obama.id  # a person to assign, not one to change
    return values


def _admin_id(m: Matrix, endpoint: str, target: Side, method: str, role: str | None) -> int | None:
    view, _, name = endpoint.partition(".")
    if view not in ADMIN_MODELS:
        return None
    w = target.world
    if method == "POST" and view in ("person", "guardian", "user"):
        return _fresh(m, target, endpoint, {"person": "person_id"}.get(view, view), role)
    return {
        "person": w.obama.id, "guardian": target.guardian.id, "consentform": w.form.id,
        "consentrecord": target.record_id, "auditevent": target.audit_id,
        "user": target.users["teacher"].id, "school": w.school.id,
    }[view]


def _has_object(endpoint: str, arguments: set[str]) -> bool:
    view, _, name = endpoint.partition(".")
    if view in ADMIN_MODELS:
        return name in OBJECT_ADMIN_VIEWS
    return bool(arguments - {"channel", "code", "export_type", "filename", "token", "provider_id"})


# --- one request --------------------------------------------------------------

@dataclass
class Call:
    method: str
    role: str | None  # None: anonymous
    target: str  # "own" | "other"
    status: int
    location: str
    body: str

    def __str__(self) -> str:
        return f"{self.method} as {self.role or 'anonymous'} on {self.target} school -> {self.status}"


def _request(m: Matrix, endpoint: str, rule: Any, method: str, role: str | None,
             actor_side: Side, target: Side, *, bearer: bool = False,
             token: str | None = None) -> Call:
    arguments = set(rule.arguments)
    values = _values(m, endpoint, arguments, target, method, role)
    if token is not None:
        values["token"] = token
    with m.app.test_request_context():
        url = url_for(endpoint, **values, _external=False)
    admin_id = _admin_id(m, endpoint, target, method, role)
    data: dict[str, Any] = {}
    headers: dict[str, str] = {}
    client = m.anonymous
    if role is not None and not bearer:
        client = actor_side.clients[role]
        if ACCESS[endpoint].own_login:
            client = m.app.test_client()
            assert Auth(client).login(actor_side.users[role].email).status_code == 302
            actor_side.csrf[f"{role}:own"] = _csrf(client, "/account/sessions")
            data["csrf_token"] = actor_side.csrf[f"{role}:own"]
    if role is not None and bearer:
        headers["Authorization"] = f"Bearer {actor_side.bearer[role]}"
    if method == "POST" and "csrf_token" not in data and not bearer:
        data["csrf_token"] = actor_side.csrf[role] if role else _csrf(client, LOGIN)
    if admin_id is not None:
        name = endpoint.partition(".")[2]
        if method == "GET" or name in ("edit_view", "end_sessions_view", "invite_view"):
            url += f"?id={admin_id}"
        elif name == "action_view":
            data.update({"action": "delete", "rowid": str(admin_id)})
        elif name == "delete_view":
            data["id"] = str(admin_id)
        elif name == "ajax_update":
            data.update({"list_form_pk": str(admin_id)})
    if endpoint.endswith(".ajax_lookup"):
        url = url.split("?")[0] + "?name=none&query=x"
    response = client.open(url, method=method, data=data, headers=headers)
    call = Call(method, role, "own" if target is actor_side else "other", response.status_code,
                response.headers.get("Location", ""),
                response.get_data(as_text=True) if response.mimetype.startswith(("text/", "application/json"))
                else "")
    response.close()
    return call


# --- checks -------------------------------------------------------------------

def _let_through(call: Call, rule: Rule) -> str | None:
    refused = REFUSED - rule.allowed_extra
    if call.status >= 500:
        return "server error"
    if call.status in refused:
        return "refused"
    if call.status in (301, 302, 303) and LOGIN in call.location and not rule.own_login:
        return "sent to login"
    return None


def _check(m: Matrix, endpoint: str, url_rule: Any) -> list[str]:
    rule = ACCESS[endpoint]
    methods = sorted(url_rule.methods - {"HEAD", "OPTIONS"})
    arguments = set(url_rule.arguments)
    has_object = _has_object(endpoint, arguments)
    a, b = m.a, m.b
    problems: list[str] = []

    def expect(call: Call, ok: bool, why: str) -> None:
        if call.status >= 500:
            problems.append(f"{call}: server error")
        elif not ok:
            problems.append(f"{call}: {why}")

    for method in methods:
        if rule.kind == "sign_in_step":
            for role in (None, *ROLES):
                call = _request(m, endpoint, url_rule, method, role, a, a)
                signed_in_page = call.status == 200 and 'action="/logout"' in call.body and role is None
                expect(call, not signed_in_page, "a sign-in step showed a signed-in page")
            continue
        if rule.kind in ("public", "link"):
            call = _request(m, endpoint, url_rule, method, None, a, a)
            expect(call, _let_through(call, rule) is None, "public/link page refused")
            if rule.kind == "link":
                bogus = _request(m, endpoint, url_rule, method, None, a, a,
                                 token="made-up-" + "x" * 40)
                expect(bogus, bogus.status in (403, 404, 410), "made-up token accepted")
                if has_object:
                    # A's token, B's publication.
                    cross = _request(m, endpoint, url_rule, method, None, a, b, token=a.link_token)
                    expect(cross, cross.status in (403, 404), "other school's object shown")
            continue

        bearer = rule.kind == "api"
        anon = _request(m, endpoint, url_rule, method, None, a, a)
        if bearer:
            expect(anon, anon.status == 401, "anonymous API call not 401")
        else:
            expect(anon, anon.status in (301, 302, 303) and LOGIN in anon.location,
                   "anonymous not sent to the login page")

        for role in ROLES:
            allowed = rule.allowed(method, role)
            own = _request(m, endpoint, url_rule, method, role, a, a, bearer=bearer)
            reason = _let_through(own, rule)
            if allowed:
                expect(own, reason is None, f"{reason} although the table allows {role}")
            else:
                expect(own, own.status == 403, f"{role} is not in the table but got through")
            if has_object:
                other = _request(m, endpoint, url_rule, method, role, a, b, bearer=bearer)
                refused = other.status in (403, 404) or (
                    rule.disabled and other.status == 302 and "id=" not in other.location)
                expect(other, refused, "another school's object was not refused")
            elif method == "GET" and allowed:
                # No object in the URL: what B's user sees must not name A's people or albums.
                seen = _request(m, endpoint, url_rule, method, role, b, b, bearer=bearer)
                expect(seen, _let_through(seen, rule) is None, "refused for the other school's user")
                leaked = [s for s in a.sentinels if s in seen.body]
                expect(seen, not leaked, f"shows the other school's {leaked}")
    return problems


def test_every_endpoint_has_an_entry_in_the_table(app: Flask) -> None:
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    missing = sorted(endpoints - ACCESS.keys())
    assert not missing, (
        "Endpoints without an entry in tests/web/access_table.py (say who may call them): "
        + ", ".join(missing))
    stale = sorted(ACCESS.keys() - endpoints)
    assert not stale, "Entries in tests/web/access_table.py for endpoints that no longer exist: " + ", ".join(stale)


@pytest.mark.parametrize("endpoint", sorted(ACCESS))
def test_access_matrix(matrix: Matrix, endpoint: str) -> None:
    rules = [r for r in matrix.app.url_map.iter_rules() if r.endpoint == endpoint]
    assert rules, f"{endpoint} is in the table but not in the app"
    problems: list[str] = []
    for url_rule in rules:
        problems += _check(matrix, endpoint, url_rule)
    assert not problems, f"{endpoint}:\n  " + "\n  ".join(problems)

