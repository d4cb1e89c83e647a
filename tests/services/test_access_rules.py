"""The access rules themselves (auth/access.py), on real rows, without going through pages.

Mutation testing (bench/mutate.py) looks for edits to auth/access.py the suite
would not notice; the page tests reach these rules only for the cases their
pages need. Pinned here: board administrators are admin on their board's
schools only (never on a school without a board), the current school is
always one of the user's, another school's object is a 404, and a role
check needs a signed-in user with the role in the current school.
"""

from __future__ import annotations

import pytest
from flask import session
from flask_login import login_user
from werkzeug.exceptions import Forbidden, NotFound

from consentflow.audit.service import Actor
from consentflow.auth.access import (
    SCHOOL_SESSION_KEY,
    current_actor,
    current_roles,
    current_school,
    get_owned,
    has_role,
    require_role,
    roles_of,
    schools_of,
)
from consentflow.models import Album, Board, Membership
from tests import factories


def _board(db_session, name: str) -> Board:
    board = Board(name=name)
    db_session.add(board)
    db_session.flush()
    return board


def test_board_admin_is_admin_on_the_board_schools_only(app, db_session) -> None:
    board, other_board = _board(db_session, "Board A"), _board(db_session, "Board B")
    a1 = factories.school(db_session, name="A1", board_id=board.id)
    a2 = factories.school(db_session, name="A2", board_id=board.id)
    b1 = factories.school(db_session, name="B1", board_id=other_board.id)
    lone = factories.school(db_session, name="Lone")  # no board
    teacher = factories.user(db_session, school=lone, roles=("teacher",))
    admin = factories.user(db_session, school=a1, roles=("pr",))
    admin.board_admin_of_id = board.id
    db_session.flush()
    assert roles_of(admin, a1) == {"pr", "admin"}
    assert roles_of(admin, a2) == {"admin"}
    assert roles_of(admin, b1) == set() and roles_of(admin, lone) == set()
    # Neither side having a board is no match: a teacher of a lone school is not its admin.
    assert roles_of(teacher, lone) == {"teacher"}
    assert [s.name for s in schools_of(admin)] == ["A1", "A2"]
    assert [s.name for s in schools_of(teacher)] == ["Lone"]


def test_current_school_is_one_of_the_users_and_roles_follow_it(app, db_session) -> None:
    first = factories.school(db_session, name="Alpha")
    second = factories.school(db_session, name="Beta")
    stranger = factories.school(db_session, name="Gamma")
    user = factories.user(db_session, school=first, roles=("teacher",))
    factories.user(db_session, school=stranger, roles=("admin",))

    db_session.add(Membership(user_id=user.id, school_id=second.id, role="pr"))
    db_session.commit()
    for wanted, expected, roles in ((second.id, "Beta", {"pr"}), (stranger.id, "Alpha", {"teacher"}),
                                    (None, "Alpha", {"teacher"})):
        with app.app_context(), app.test_request_context("/"):  # a fresh g per request
            login_user(user)
            if wanted is not None:
                session[SCHOOL_SESSION_KEY] = wanted
            assert current_school().name == expected
            assert current_roles() == roles
            assert has_role("admin", *roles) and not has_role("admin")
            assert current_actor() == Actor(user.id, user.email)


def test_role_check_and_owned_objects(app, db_session) -> None:
    school = factories.school(db_session)
    other = factories.school(db_session)
    user = factories.user(db_session, school=school, roles=("teacher",))
    mine = factories.album(db_session, school=school)
    theirs = factories.album(db_session, school=other)
    db_session.commit()

    @require_role("pr", "admin")
    def pr_only() -> str:
        return "ran"

    @require_role("teacher")
    def teachers() -> str:
        return "ran"

    assert pr_only.required_roles == frozenset({"pr", "admin"})
    with app.app_context(), app.test_request_context("/"):  # a fresh g per request
        assert current_roles() == set() and current_school() is None
        assert pr_only().status_code == 302  # anonymous: to the login page
        assert current_actor() == Actor.system("anonymous")
    with app.app_context(), app.test_request_context("/"):  # a fresh g per request
        login_user(user)
        assert teachers() == "ran"
        with pytest.raises(Forbidden):
            pr_only()
        assert get_owned(Album, mine.id).id == mine.id
        for missing in (theirs.id, 10**9):
            with pytest.raises(NotFound):
                get_owned(Album, missing)
    # Signed in but without any school: refused (403), never a 500 or a 404.
    homeless = factories.user(db_session, school=school, roles=())
    db_session.commit()
    with app.app_context(), app.test_request_context("/"):  # a fresh g per request
        login_user(homeless)
        with pytest.raises(Forbidden):
            teachers()


def test_the_first_school_by_name_is_the_default_and_no_school_means_no_roles(app, db_session) -> None:
    board = _board(db_session, "Board Empty")
    later = factories.school(db_session, name="Zonnebloem")  # created first, named last
    earlier = factories.school(db_session, name="Akker")
    user = factories.user(db_session, school=later, roles=("teacher",))
    db_session.add(Membership(user_id=user.id, school_id=earlier.id, role="pr"))
    # A board administrator of a board without schools: signed in, nowhere to work.
    lonely = factories.user(db_session, school=later, roles=())
    lonely.board_admin_of_id = board.id
    db_session.commit()
    assert [s.name for s in schools_of(user)] == ["Akker", "Zonnebloem"]
    with app.app_context(), app.test_request_context("/"):
        login_user(user)
        assert current_school().name == "Akker" and current_roles() == {"pr"}
    with app.app_context(), app.test_request_context("/"):
        login_user(lonely)
        assert current_school() is None
        assert current_roles() == set()
