"""Lock-out as an attack: someone else's failures never lock out a colleague with the right password."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from consentflow.models import LoginAttempt
from tests import factories
from tests.conftest import csrf_token

WRONG = "wrong-password-123"
NAT = "145.100.1.1"  # one school, one public address


def _client(app):
    """A browser behind the school's address (its IP is part of Flask-Login's session check)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = NAT
    return client


def _login(client, email, password, addr=NAT):
    token = csrf_token(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": addr})


def _staff(db_session):
    school = factories.school(db_session)
    admin = factories.user(db_session, school=school, roles=("admin",))
    pr = factories.user(db_session, school=school, roles=("pr",))
    db_session.commit()
    return admin, pr


def test_spraying_unknown_emails_does_not_lock_out_colleagues_behind_the_same_address(app, db_session) -> None:
    admin, pr = _staff(db_session)
    attacker = _client(app)
    for i in range(20):
        assert _login(attacker, f"unknown{i}@example.org", WRONG).status_code == 401
    # The probe's case: fresh browsers, same address, correct passwords.
    assert _login(_client(app), admin.email, factories.PASSWORD).status_code == 302
    assert _login(_client(app), pr.email, factories.PASSWORD).status_code == 302
    # The attacker is the one slowed down: after its one guess at an account, that account waits.
    assert _login(attacker, admin.email, WRONG).status_code == 401
    response = _login(attacker, admin.email, factories.PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_a_browser_that_signed_in_before_is_not_blocked_by_someone_elses_failures(app, db_session) -> None:
    admin, _pr = _staff(db_session)
    own = _client(app)
    assert _login(own, admin.email, factories.PASSWORD).status_code == 302
    assert own.get_cookie("cf_device", domain="localhost") is not None
    own.post("/logout", data={"csrf_token": csrf_token(own, "/")})
    attacker = _client(app)
    for _ in range(5):
        assert _login(attacker, admin.email, WRONG).status_code == 401
    assert _login(attacker, admin.email, factories.PASSWORD).status_code == 429
    # Same address, but the admin's own browser is judged by its own (zero) failures.
    assert _login(own, admin.email, factories.PASSWORD).status_code == 302


def test_two_attempts_at_the_same_moment_are_counted_one_after_the_other(app, db_session) -> None:
    admin, _pr = _staff(db_session)
    max_failures = app.config["LOGIN_MAX_FAILURES"]
    first = _client(app)
    for _ in range(max_failures - 1):
        assert _login(first, admin.email, WRONG).status_code == 401
    clients = [_client(app), _client(app)]
    tokens = [csrf_token(c) for c in clients]
    barrier = threading.Barrier(2)
    codes: list[int] = []
    errors: list[BaseException] = []

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            with app.app_context():
                response = clients[i].post("/login", data={
                    "email": admin.email, "password": WRONG, "csrf_token": tokens[i]})
            codes.append(response.status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    # Only one of the two may still be checked; the other must wait.
    assert sorted(codes) == [401, 429]
    db_session.expire_all()
    failures = db_session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.email == admin.email, LoginAttempt.success.is_(False)))
    assert failures == max_failures


def test_right_password_at_the_same_moment_as_a_spray(app, db_session) -> None:
    admin, _pr = _staff(db_session)
    attacker = _client(app)
    for i in range(20):
        _login(attacker, f"unknown{i}@example.org", WRONG)
    colleague = _client(app)
    tokens = [csrf_token(attacker), csrf_token(colleague)]
    barrier = threading.Barrier(2)
    codes: dict[str, int] = {}

    def attempt(who: str, client, email, password, token) -> None:
        barrier.wait()
        with app.app_context():
            codes[who] = client.post("/login", data={"email": email, "password": password,
                                                     "csrf_token": token}).status_code

    threads = [
        threading.Thread(target=attempt, args=("attacker", attacker, "unknown99@example.org", WRONG, tokens[0])),
        threading.Thread(target=attempt, args=("colleague", colleague, admin.email, factories.PASSWORD, tokens[1])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert codes["colleague"] == 302
